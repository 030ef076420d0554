"""The official MCP Python SDK's 2026-07-28 `Client` against our MCP server's multi
round-trip tools (PR-26, PR-23): the SDK answers each `InputRequiredResult` through its
elicitation, sampling and roots callbacks and retries with `inputResponses` and our sealed
`requestState`, unchanged, until the tool completes. OAuth as in test_python_sdk_client.py.
"""
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CreateMessageResult, ElicitResult, ListRootsResult, Root, TextContent

from test_python_sdk_client import HeadlessBrowser, MemoryStorage, make_provider


async def answer(context, params):
    """Confirms a confirmation; answers a survey question with its own message."""
    wire = params.model_dump(by_alias=True, exclude_none=True)
    if "answer" in wire["requestedSchema"]["properties"]:
        return ElicitResult(action="accept", content={"answer": wire["message"]})
    return ElicitResult(action="accept", content={"confirm": True})


async def sample(context, params):
    return CreateMessageResult(
        role="assistant", model="interop", content=TextContent(type="text", text="short")
    )


async def roots(context):
    return ListRootsResult(roots=[Root(uri="file:///interop", name="interop")])


def text(result):
    return result.content[0].text


async def test_python_sdk_client_completes_our_mrtr_tools(stack):
    storage, browser = MemoryStorage(), HeadlessBrowser()
    async with httpx2.AsyncClient(auth=make_provider(stack.mcp_url, storage, browser), timeout=30) as http:
        async with Client(
            streamable_http_client(stack.mcp_url, http_client=http),
            mode="2026-07-28",
            elicitation_callback=answer,
            sampling_callback=sample,
            list_roots_callback=roots,
        ) as client:
            assert text(await client.call_tool("confirm_action", {"action": "deploy"})) == "confirmed: deploy"
            assert text(await client.call_tool("summarize", {"text": "long"})) == "summary: short"
            r = await client.call_tool("client_roots", {})
            assert r.structured_content == {"roots": ["file:///interop"]}
            r = await client.call_tool("survey", {"questions": 2})
            assert r.structured_content == {"answers": ["Question 1 of 2", "Question 2 of 2"]}
            # A forged state is refused with the frozen -32602 error.
            with pytest.raises(Exception) as e:
                await client.call_tool(
                    "confirm_action", {"action": "deploy"}, request_state="v1.x.e30.AAAA"
                )
            assert "Invalid or expired requestState" in str(e.value)


async def test_python_sdk_client_sends_param_headers_our_server_accepts(stack):
    """TR-21, TR-19: the SDK mirrors our `x-mcp-header` arguments into `Mcp-Param-*` headers
    with its own encoder; our server checks them against the body and accepts them."""
    storage, browser = MemoryStorage(), HeadlessBrowser()
    async with httpx2.AsyncClient(auth=make_provider(stack.mcp_url, storage, browser), timeout=30) as http:
        async with Client(streamable_http_client(stack.mcp_url, http_client=http), mode="2026-07-28") as client:
            tools = await client.list_tools()
            assert "regional_status" in {t.name for t in tools.tools}
            r = await client.call_tool(
                "regional_status", {"region": " zürich", "priority": 2, "dry_run": True}
            )
            assert text(r) == "region  zürich: operational (priority 2, dry run true)", text(r)
