# The single mush image: `mush gateway`, `mush game` and `mush operator` are its roles.
#   docker build -t mush-on-kube/mush:0.1.0 .
# Without Docker, scripts/image builds the same image with umoci; both lay out the root
# filesystem with scripts/image-rootfs, so they hold the same files.
#
# Build stage: the Rust toolchain on Debian bookworm. The release binary is built without
# the `dev` feature: no `mush dev`, no test harness.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY tests ./tests
COPY e2e/chaos.rs e2e/operator.rs e2e/pods.rs ./e2e/
COPY crds ./crds
COPY scripts/image-rootfs ./scripts/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mush --bin mush \
    && scripts/image-rootfs target/release/mush /rootfs

# Run stage: only the binary, the libraries it loads, CA certificates and the non-root
# user 65532. No shell.
FROM scratch
COPY --from=build /rootfs /
USER 65532:65532
WORKDIR /
ENV PATH=/usr/local/bin:/usr/bin:/bin
EXPOSE 4201 4202 4203 4204 8080 8081 8082 50051
ENTRYPOINT ["/usr/local/bin/mush"]
CMD ["--help"]
