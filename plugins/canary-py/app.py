"""canary-py: a header-based canary router for Portico, written in Python.

A request is a canary request when it carries the opt-in header with one of
the configured values, or, for the others, when a stable hash of the client
address (or of the consumer an authentication plugin named) falls under
``percent``. A canary request is forwarded under ``path_prefix``
(``/orders/7`` becomes ``/canary/orders/7``), with the opt-in header set to
``1`` for the upstream, and its response carries ``<header>: 1``; every
other request is forwarded with its path unchanged and without the header.

The gateway picks the upstream from the route before the chain runs, so the
plugin steers by path: the upstream (or the deployment behind it) serves the
canary build under the prefix.

Built with componentize-py against ``wit/canary.wit`` (Portico's ``plugin``
world narrowed to ``context``); see README.md.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.exports import Handler as HandlerProtocol
from wit_world.imports import context
from wit_world.imports.types import (
    Action_Continue,
    ConfigError,
    PluginError,
    PluginMetadata,
    Request,
    Response,
)

NAME = "canary-py"
VERSION = "0.1.0"

# RFC 9110 token characters: what a header name may be made of.
_TOKEN = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_KEYS = ("header", "values", "percent", "hash_on", "path_prefix")
_HASH_ON = ("client_addr", "consumer")


class _Config:
    """The checked config, read once per instance by ``init``."""

    def __init__(self) -> None:
        self.header = "x-canary"
        self.values = ["1"]
        self.percent = 0
        self.hash_on = "client_addr"
        self.path_prefix = "/canary"


def _fail(key: str, message: str) -> Err:
    return Err(ConfigError(key=key, message=message))


def _parse(text: str) -> _Config:
    """Checks the route's config table; raises Err(ConfigError) naming the key."""
    try:
        table = json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise _fail("", f"not JSON: {error}")
    if not isinstance(table, dict):
        raise _fail("", "expected a table")
    config = _Config()
    for key in table:
        if key not in _KEYS:
            raise _fail(key, f"unknown key, expected one of {', '.join(_KEYS)}")

    if "header" in table:
        header = table["header"]
        if not isinstance(header, str) or not header:
            raise _fail("header", "expected a header name")
        header = header.lower()
        if any(c not in _TOKEN for c in header):
            raise _fail("header", f"`{header}` is not a valid header name")
        config.header = header

    if "values" in table:
        values = table["values"]
        if not isinstance(values, list) or not values:
            raise _fail("values", "expected a non-empty list of header values")
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value or value != value.strip():
                raise _fail(f"values[{i}]", "expected a non-empty string without surrounding spaces")
        config.values = list(values)

    if "percent" in table:
        percent = table["percent"]
        # bool is an int in Python: refuse it explicitly.
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise _fail("percent", "expected an integer from 0 to 100")
        config.percent = percent

    if "hash_on" in table:
        hash_on = table["hash_on"]
        if hash_on not in _HASH_ON:
            raise _fail("hash_on", f"expected one of {', '.join(_HASH_ON)}")
        config.hash_on = hash_on

    if "path_prefix" in table:
        prefix = table["path_prefix"]
        if (
            not isinstance(prefix, str)
            or not prefix.startswith("/")
            or len(prefix) < 2
            or prefix.endswith("/")
            or "?" in prefix
            or "#" in prefix
            or "//" in prefix
        ):
            raise _fail("path_prefix", "expected a path like `/canary`: a leading `/`, no trailing `/`, no `?` or `#`")
        config.path_prefix = prefix
    return config


def bucket(key: str) -> int:
    """The key's stable bucket, 0..99: FNV-1a (64-bit) of its UTF-8 bytes, mod 100.

    The same on every gateway, instance and restart, so a client stays on
    the side it was put on while ``percent`` does not change.
    """
    h = 0xCBF29CE484222325
    for byte in key.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % 100


_config = _Config()
# Whether the request this instance serves went to the canary: set by
# on_request, read by on_response (one instance serves both phases of one
# request and no other in between).
_canary = False


class Handler(HandlerProtocol):
    """The exported ``handler`` interface."""

    def metadata(self) -> PluginMetadata:
        return PluginMetadata(name=NAME, version=VERSION)

    def init(self, config: str) -> None:
        global _config
        _config = _parse(config)

    def on_request(self, req: Request) -> wit_world.imports.types.Action:
        global _canary
        config = _config
        _canary = False
        opted = req.header(config.header)
        if opted is not None and opted.strip() in config.values:
            _canary = True
        elif config.percent > 0:
            if config.hash_on == "consumer":
                key = context.get("consumer")
            else:
                key = req.client_addr()
            _canary = key is not None and bucket(key) < config.percent
        if not _canary:
            # The upstream sees the header only when the gateway chose.
            req.remove_header(config.header)
            return Action_Continue()
        path = req.path()
        prefix = config.path_prefix
        if path != prefix and not path.startswith(prefix + "/"):
            try:
                req.set_path(prefix + path)
            except Err as error:
                raise Err(PluginError(message=f"set-path {prefix}{path}: {error.value}"))
        try:
            req.set_header(config.header, "1")
        except Err as error:
            raise Err(PluginError(message=f"set-header {config.header}: {error.value}"))
        return Action_Continue()

    def on_response(self, resp: Response) -> wit_world.imports.types.Action:
        if _canary:
            try:
                resp.set_header(_config.header, "1")
            except Err as error:
                raise Err(PluginError(message=f"set-header {_config.header}: {error.value}"))
        return Action_Continue()
