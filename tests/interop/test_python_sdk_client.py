"""The official MCP Python SDK client runs its own OAuth flow against our two servers:
PRM -> AS metadata -> dynamic registration -> PKCE authorize -> token -> MCP calls -> refresh.

The browser is replaced by a headless redirect handler that fetches the authorization URL
(our server auto-approves) and hands the redirect's code and state to the SDK's callback.
"""
import asyncio
import json
from urllib.parse import parse_qs, urlparse

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

REDIRECT = "http://127.0.0.1:53682/callback"


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class HeadlessBrowser:
    """Follows the authorization URL like a browser would and captures the redirect."""

    def __init__(self):
        self.result = None
        self.visits = 0

    async def redirect_handler(self, authorization_url: str) -> None:
        self.visits += 1
        async with httpx.AsyncClient(follow_redirects=False) as c:
            r = await c.get(authorization_url)
        assert r.status_code in (302, 303), r.text
        q = parse_qs(urlparse(r.headers["location"]).query)
        assert "error" not in q, q
        self.result = AuthorizationCodeResult(
            code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0]
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def make_provider(url: str, storage: MemoryStorage, browser: HeadlessBrowser) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-interop",
            redirect_uris=[AnyUrl(REDIRECT)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            scope="mcp",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )


async def test_python_sdk_client_logs_in_and_uses_tools_resources_prompts(stack):
    storage, browser = MemoryStorage(), HeadlessBrowser()
    async with httpx2.AsyncClient(auth=make_provider(stack.mcp_url, storage, browser), timeout=30) as http, \
            streamable_http_client(stack.mcp_url, http_client=http) as (r, w), \
            ClientSession(r, w) as session:
        if True:
            init = await session.initialize()
            assert init.server_info.name
            print("negotiated protocol version:", init.protocol_version)
            tools = await session.list_tools()
            names = {t.name for t in tools.tools}
            assert {"echo", "add", "whoami", "slow_task"} <= names
            echo = await session.call_tool("echo", {"message": "hello interop"})
            assert echo.content[0].text == "hello interop"
            add = await session.call_tool("add", {"a": 2, "b": 40})
            assert "42" in add.content[0].text
            who = await session.call_tool("whoami", {})
            claims = json.loads(who.content[0].text)
            assert claims["client_id"] == storage.client_info.client_id
            assert "mcp" in claims["scopes"]
            resources = await session.list_resources()
            assert resources.resources
            first = await session.read_resource(resources.resources[0].uri)
            assert first.contents
            prompts = await session.list_prompts()
            assert prompts.prompts
            await session.send_ping()
    assert browser.visits == 1
    assert storage.client_info.client_id  # dynamic registration happened
    assert storage.tokens.refresh_token


async def test_python_sdk_client_refreshes_expired_access_tokens(short_lived_stack):
    url = short_lived_stack.mcp_url
    storage, browser = MemoryStorage(), HeadlessBrowser()
    async with httpx2.AsyncClient(auth=make_provider(url, storage, browser), timeout=30) as http, \
            streamable_http_client(url, http_client=http) as (r, w), \
            ClientSession(r, w) as session:
        if True:
            await session.initialize()
            first_access = storage.tokens.access_token
            first_refresh = storage.tokens.refresh_token
            await asyncio.sleep(3)
            result = await session.call_tool("echo", {"message": "after expiry"})
            assert result.content[0].text == "after expiry"
    assert browser.visits == 1, "refresh, not a second login"
    assert storage.tokens.access_token != first_access
    assert storage.tokens.refresh_token != first_refresh, "refresh tokens rotate"
