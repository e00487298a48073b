"""vidatlas service: bundle loading, search, the gRPC server and the command-line client."""
