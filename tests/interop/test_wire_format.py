"""Raw httpx checks of what every MCP client relies on (checklist RS-, AS- and TR- rows)."""
import httpx


def test_unauthenticated_mcp_request_gets_401_with_resource_metadata(stack):
    r = httpx.post(stack.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                   headers={"accept": "application/json, text/event-stream"})
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="' in challenge
    assert "error=" not in challenge  # no token presented: no error code (RFC 6750 §3.1)


def test_protected_resource_metadata_points_at_the_issuer(stack):
    base, path = stack.mcp_url.rsplit("/", 1)
    prm = httpx.get(f"{base}/.well-known/oauth-protected-resource/{path}").json()
    assert prm["resource"] == stack.mcp_url
    assert prm["authorization_servers"] == [stack.issuer]
    assert prm["bearer_methods_supported"] == ["header"]


def test_authorization_server_metadata_advertises_s256_and_iss(stack):
    m = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server").json()
    assert m["issuer"] == stack.issuer
    assert m["code_challenge_methods_supported"] == ["S256"]
    assert m["authorization_response_iss_parameter_supported"] is True


def test_invalid_token_gets_invalid_token_challenge(stack):
    r = httpx.post(stack.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                   headers={"accept": "application/json, text/event-stream",
                            "authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_token_endpoint_errors_are_rfc6749_json_with_no_store(stack):
    r = httpx.post(f"{stack.issuer}/token", data={"grant_type": "authorization_code", "code": "x",
                                                   "code_verifier": "y" * 43, "client_id": "mcp-cli"})
    assert r.status_code == 400
    assert r.headers["cache-control"] == "no-store"
    assert r.json()["error"] == "invalid_grant"
