/** What a graceful stop needs of a grpc-js Server (typed by shape: platform does not depend on grpc-js). */
export interface GrpcServerShutdown {
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

/** Stops a gRPC server: calls in flight get graceMs to finish, then whatever remains is cut. */
export function shutdownGrpcServer(server: GrpcServerShutdown, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
