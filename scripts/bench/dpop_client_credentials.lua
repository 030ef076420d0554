-- wrk script: client_credentials grants for mcp-service, each with a fresh DPoP proof from the
-- pool in $PROOFS_FILE (single use: the server's replay cache refuses a second use, so an
-- exhausted pool is an error, never a silent replay).
local pool = {}
for line in io.lines(os.getenv("PROOFS_FILE")) do pool[#pool + 1] = line end
wrk.method = "POST"
request = function()
  local p = table.remove(pool)
  if p == nil then error("DPoP proof pool exhausted: raise PROOFS") end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    -- base64("mcp-service:dev-service-secret")
    ["Authorization"] = "Basic bWNwLXNlcnZpY2U6ZGV2LXNlcnZpY2Utc2VjcmV0",
    ["DPoP"] = p,
  }, "grant_type=client_credentials&scope=mcp")
end
response = function(status, headers, body)
  if status ~= 200 then error("unexpected status " .. status) end
end
