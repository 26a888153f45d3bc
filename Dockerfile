# The single mush image: `mush gateway`, `mush game` and `mush operator` are its roles.
#   docker build -t mush-on-kube/mush:0.1.0 .
# Build stage: the Rust toolchain, dependencies cached in their own layer.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY tests ./tests
COPY e2e/chaos.rs e2e/operator.rs ./e2e/
COPY crds ./crds
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mush --bin mush \
    && cp target/release/mush /mush

# Run stage: distroless (glibc, CA certificates, no shell), as the nonroot user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /mush /usr/local/bin/mush
USER 65532:65532
EXPOSE 4201 4202 8080 8081 8082 50051
ENTRYPOINT ["/usr/local/bin/mush"]
CMD ["--help"]
