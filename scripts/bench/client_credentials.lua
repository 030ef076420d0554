-- wrk script: client_credentials grants for the confidential client mcp-service.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=mcp"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- base64("mcp-service:dev-service-secret")
wrk.headers["Authorization"] = "Basic bWNwLXNlcnZpY2U6ZGV2LXNlcnZpY2Utc2VjcmV0"
response = function(status, headers, body)
  if status ~= 200 then error("unexpected status " .. status) end
end
