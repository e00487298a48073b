"""Generated gRPC stubs (python proto/generate.py); only service/conversions.py and the server
and client transport code import them."""
