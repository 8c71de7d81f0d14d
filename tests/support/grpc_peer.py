"""A real gRPC server and client (grpcio) for tests/grpc.rs.

    python3 grpc_peer.py server            # prints its port, serves until killed
    python3 grpc_peer.py client TARGET RUN [CA_PEM]

The server registers one echo service under several names (so routes can
tell them apart by path); messages are raw bytes, no protobuf needed. The
client runs every scenario against TARGET (h2c, or TLS with ALPN h2 when
CA_PEM is given) and prints one JSON object with what it saw.
"""

import json
import sys
import time
from concurrent import futures

import grpc

SERVICES = ["portico.test.Echo", "keyed.Echo", "limited.Echo", "slow.Echo", "down.Echo"]
BIG = 16 << 20


def unary(request, context):
    metadata = dict(context.invocation_metadata())
    if request.startswith(b"fail:"):
        context.set_trailing_metadata((("x-detail", "from-the-server"),))
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, request[5:].decode())
    if request.startswith(b"sleep:"):
        time.sleep(float(request[6:]))
    context.send_initial_metadata((("x-seen-consumer", metadata.get("x-consumer", "")),))
    context.set_trailing_metadata((("x-trailer", "kept"),))
    return request


def server_stream(request, context):
    for i in range(int(request)):
        yield b"%d" % i


def client_stream(requests, context):
    return b"".join(requests)


def bidi(requests, context):
    for message in requests:
        yield message.upper()


def serve():
    def same(x):
        return x
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, same, same),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, same, same),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, same, same),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi, same, same),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", BIG),
                                  ("grpc.max_send_message_length", BIG)])
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(name, handlers) for name in SERVICES])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


def outcome(call):
    """Runs a call; returns code, details, metadata and the result."""
    try:
        result, rpc = call()
        return {"code": "OK", "result": result,
                "initial": dict(rpc.initial_metadata() or ()),
                "trailing": dict(rpc.trailing_metadata() or ())}
    except grpc.RpcError as error:
        return {"code": error.code().name, "details": error.details(),
                "initial": dict(error.initial_metadata() or ()),
                "trailing": dict(error.trailing_metadata() or ())}


def client(target, run, ca=None):
    options = [("grpc.max_receive_message_length", BIG),
               ("grpc.max_send_message_length", BIG),
               ("grpc.enable_retries", 0)]
    if ca:
        with open(ca, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(target, credentials,
                                      options + [("grpc.ssl_target_name_override", "localhost")])
    else:
        channel = grpc.insecure_channel(target, options)

    def unary_on(service, message, timeout=10, metadata=()):
        stub = channel.unary_unary("/%s/Unary" % service)
        return lambda: stub.with_call(message, timeout=timeout, metadata=metadata)

    def text(x):
        return x.decode() if isinstance(x, bytes) else x

    seen = {}
    seen["unary"] = outcome(unary_on("portico.test.Echo", b"hello"))
    seen["unary"]["result"] = text(seen["unary"].get("result"))
    big = bytes(range(256)) * (5 << 12)  # 5 MiB
    large = outcome(unary_on("portico.test.Echo", big))
    seen["large"] = {"code": large["code"], "intact": large.get("result") == big, "size": len(big)}

    def server_streaming():
        call = channel.unary_stream("/portico.test.Echo/ServerStream")(b"5", timeout=10)
        return [text(m) for m in call], call
    seen["server_stream"] = outcome(server_streaming)

    def client_streaming():
        stub = channel.stream_unary("/portico.test.Echo/ClientStream")
        result, call = stub.with_call(iter([b"a", b"b", b"c"]), timeout=10)
        return text(result), call
    seen["client_stream"] = outcome(client_streaming)

    def bidi_streaming():
        call = channel.stream_stream("/portico.test.Echo/Bidi")(iter([b"x", b"y", b"z"]), timeout=10)
        return [text(m) for m in call], call
    seen["bidi"] = outcome(bidi_streaming)

    seen["error"] = outcome(unary_on("portico.test.Echo", b"fail:not today"))
    seen["no_route"] = outcome(unary_on("nowhere.Echo", b"x"))
    seen["upstream_down"] = outcome(unary_on("down.Echo", b"x"))
    seen["no_key"] = outcome(unary_on("keyed.Echo", b"x"))
    seen["with_key"] = outcome(unary_on("keyed.Echo", b"x", metadata=(("x-api-key", "grpc-test-key"),)))
    # Counted per run (the `x-run` header), so each transport starts afresh.
    seen["limited_first"] = outcome(unary_on("limited.Echo", b"x", metadata=(("x-run", run),)))
    seen["limited_second"] = outcome(unary_on("limited.Echo", b"x", metadata=(("x-run", run),)))
    started = time.monotonic()
    seen["route_timeout"] = outcome(unary_on("slow.Echo", b"sleep:3", timeout=20))
    seen["route_timeout"]["elapsed"] = time.monotonic() - started
    started = time.monotonic()
    seen["client_deadline"] = outcome(unary_on("portico.test.Echo", b"sleep:3", timeout=0.5))
    seen["client_deadline"]["elapsed"] = time.monotonic() - started
    print(json.dumps(seen, default=lambda o: o.decode("utf-8", "replace") if isinstance(o, bytes) else str(o)))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve()
    else:
        client(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
