-- wrk script: refresh_token grants. Every response carries a rotated refresh token, which goes
-- back into the pool; each request takes one from the pool ($TOKENS_FILE seeds it).
local pool = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do pool[#pool + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  local rt = table.remove(pool)
  if rt == nil then error("refresh token pool exhausted") end
  return wrk.format("POST", nil, nil, "grant_type=refresh_token&client_id=mcp-cli&refresh_token=" .. rt)
end
response = function(status, headers, body)
  if status ~= 200 then error("unexpected status " .. status) end
  local rt = body:match('"refresh_token":"([^"]+)"')
  if rt then pool[#pool + 1] = rt end
end
