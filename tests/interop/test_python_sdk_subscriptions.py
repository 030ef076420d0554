"""The official MCP Python SDK's subscription clients against our server (PR-27, PR-35):
`subscriptions/listen` after `server/discover` (2026-07-28), and `resources/subscribe` with
change notifications on a 2025-11-25 session. The changes come from our mock tools:
`toggle_tool` (the tool list changes) and `increment` (the counter resource changes)."""

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated, ToolsListChanged, listen

from test_python_sdk_client import HeadlessBrowser, MemoryStorage, make_provider

COUNTER = "counter://value"


async def test_python_sdk_listen_receives_list_changed_and_resource_updates(stack):
    storage, browser = MemoryStorage(), HeadlessBrowser()
    async with httpx2.AsyncClient(auth=make_provider(stack.mcp_url, storage, browser), timeout=30) as http, \
            streamable_http_client(stack.mcp_url, http_client=http) as (r, w), \
            ClientSession(r, w) as session:
        await session.discover()
        async with listen(session, tools_list_changed=True, resource_subscriptions=[COUNTER]) as sub:
            assert sub.honored.tools_list_changed is True
            assert sub.honored.resource_subscriptions == [COUNTER]
            await session.call_tool("toggle_tool", {})
            with anyio.fail_after(10):
                event = await sub.__anext__()
            assert event == ToolsListChanged()
            tools = await session.list_tools()
            assert "optional_tool" in {t.name for t in tools.tools}
            await session.call_tool("increment", {})
            with anyio.fail_after(10):
                event = await sub.__anext__()
            assert event == ResourceUpdated(uri=COUNTER)


async def test_python_sdk_session_subscribe_gets_resource_updated(stack):
    storage, browser = MemoryStorage(), HeadlessBrowser()
    got = []
    seen = anyio.Event()

    async def on_message(message):
        method = getattr(getattr(message, "root", message), "method", None)
        if method == "notifications/resources/updated":
            got.append(message)
            seen.set()

    async with httpx2.AsyncClient(auth=make_provider(stack.mcp_url, storage, browser), timeout=30) as http, \
            streamable_http_client(stack.mcp_url, http_client=http) as (r, w), \
            ClientSession(r, w, message_handler=on_message) as session:
        init = await session.initialize()
        assert init.capabilities.resources.subscribe is True
        await session.subscribe_resource(COUNTER)
        # The SDK opens the session's GET stream in the background; increment until the
        # notification arrives (bounded).
        with anyio.fail_after(15):
            while not seen.is_set():
                await session.call_tool("increment", {})
                with anyio.move_on_after(0.5):
                    await seen.wait()
    assert got
