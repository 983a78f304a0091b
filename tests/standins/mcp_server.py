"""An MCP server for the end-to-end tests, built with the MCP Python SDK itself and served
over its Streamable HTTP transport behind TLS: three tools, `list_issues`, `get_issue` and
`delete_repository`. Each call prints `CALL name` (so a test can tell which calls reached
it). With --json the server answers with JSON bodies instead of event streams.

Usage: mcp_server.py --cert C --key K [--json]. Prints "PORT n" once listening.
"""
import argparse
import socket

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

server = MCPServer("issues")


@server.tool()
def list_issues(repo: str) -> str:
    """List the open issues of a repository."""
    print("CALL list_issues", flush=True)
    return f"{repo}: #1 it is broken"


@server.tool()
def get_issue(repo: str, number: int) -> str:
    """Read one issue."""
    print("CALL get_issue", flush=True)
    return f"{repo}#{number}: it is broken"


@server.tool()
def delete_repository(repo: str) -> str:
    """Delete a repository."""
    print("CALL delete_repository", flush=True)
    return f"{repo} deleted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    app = server.streamable_http_app(
        json_response=args.json,
        # The proxy forwards with the sealed host's name; this stand-in plays that host.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(
        app, ssl_certfile=args.cert, ssl_keyfile=args.key, log_level="warning", lifespan="on"
    )
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
