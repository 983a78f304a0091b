"""An MCP client for the end-to-end tests, the MCP Python SDK's own, through the proxy
(HTTPS_PROXY and the proxy's CA come from the environment, as `macaroon-proxy ca` sets
them): it lists the tools, calls an allowed one, then one the token refuses.

Usage: MCP_TOKEN=... mcp_client.py URL ALLOWED_TOOL REFUSED_TOOL
"""
import os
import sys

import anyio
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url, allowed, refused):
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {os.environ['MCP_TOKEN']}"})
    async with http:
        async with streamable_http_client(url, http_client=http, terminate_on_close=False) as streams:
            async with ClientSession(streams[0], streams[1]) as s:
                await s.initialize()
                tools = await s.list_tools()
                print("tools:", " ".join(sorted(t.name for t in tools.tools)), flush=True)
                r = await s.call_tool(allowed, {"repo": "o/r", "number": 1})
                print("called:", r.content[0].text, flush=True)
                try:
                    r = await s.call_tool(refused, {"repo": "o/r"})
                    print("not refused:", r, flush=True)
                except Exception as e:  # the SDK raises the JSON-RPC error it got
                    print("refused:", e, flush=True)


anyio.run(main, *sys.argv[1:4])
