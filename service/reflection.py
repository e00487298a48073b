"""Server reflection under both names clients ask for: ``grpc.reflection.v1`` (buf curl, current
grpcurl) and ``grpc.reflection.v1alpha`` (older tools). grpcio-reflection implements only
v1alpha; v1's messages are the same fields under a new package, so the same servicer answers
both, with v1alpha's message classes doing the (identical) wire encoding."""
from __future__ import annotations

import grpc
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha import reflection_pb2 as msg

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"


def enable(service_names: tuple[str, ...], server: grpc.Server) -> None:
    names = (*service_names, reflection.SERVICE_NAME, V1_SERVICE_NAME)
    servicer = reflection.ReflectionServicer(names)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo, request_deserializer=msg.ServerReflectionRequest.FromString,
        response_serializer=msg.ServerReflectionResponse.SerializeToString)
    for name in (reflection.SERVICE_NAME, V1_SERVICE_NAME):
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler}),))
