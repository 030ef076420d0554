//! MCP server library.
