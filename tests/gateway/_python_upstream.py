"""A Streamable HTTP MCP server in Python (the official `mcp` SDK, 2.x) for
the gateway's parity test: tools, a resource, a resource template and a
prompt. Listens on 127.0.0.1 on a port the OS picks, prints
`listening PORT`, and stops when stdin closes."""

import asyncio
import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

mcp = MCPServer("python-upstream", version="1.0.0")


@mcp.tool()
def echo(text: str) -> str:
    """Returns its text."""
    return text


@mcp.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@mcp.resource("file:///public/readme", mime_type="text/plain")
def readme() -> str:
    """A public file."""
    return "read me"


@mcp.resource("file:///public/files/{name}", mime_type="text/plain")
def public_file(name: str) -> str:
    """A file by name."""
    return f"file {name}"


@mcp.prompt()
def greeting(name: str) -> str:
    """Greets someone."""
    return f"Hello, {name}!"


async def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    app = mcp.streamable_http_app()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    print(f"listening {sock.getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.should_exit = True
    await serving


asyncio.run(main())
