# The runner's image: runner + git + terraform. The runner runs as root in its container so that it can run
# Terraform on pull requests as separate unprivileged users (see SECURITY.md); it needs no added capability.
# Build: docker build -t gitops-runner .  Without Docker: make image (runner build-self: non-root, bubblewrap,
# Debian packages from the signed archive, Terraform checksum-verified).

FROM golang:1.26-bookworm AS terraform
# Terraform 1.5.7 is the last MPL release; built from source so the image needs no download site.
RUN GOBIN=/out CGO_ENABLED=0 go install github.com/hashicorp/terraform@v1.5.7

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/runner ./cmd/runner \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/runner-sandbox ./cmd/runner-sandbox

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates bubblewrap nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/runner && chmod 0711 /var/lib/runner
COPY --from=terraform /out/terraform /usr/local/bin/terraform
COPY --from=build /out/runner /usr/local/bin/runner
# The sandbox's launcher, beside the runner (which finds it there): it starts each isolated Terraform
# command in a few milliseconds, where the runner's own binary spends 50 ms or more initialising.
COPY --from=build /out/runner-sandbox /usr/local/bin/runner-sandbox
# The Go toolchain builds image apps without a Docker daemon; npm builds the frontend bundle.
COPY --from=build /usr/local/go /usr/local/go
# Root in the container (default capabilities only): the sandbox needs setuid/setgid/chown to run Terraform
# as users of its own, and namespaces where the platform allows them (not on Fargate: the separate user holds).
USER 0:0
ENV RUNNER_DATA_DIR=/var/lib/runner RUNNER_LISTEN=:8080 TF_IN_AUTOMATION=1 \
    PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin GOCACHE=/var/lib/runner/go-cache GOPATH=/var/lib/runner/go
EXPOSE 8080
VOLUME ["/var/lib/runner"]
ENTRYPOINT ["/usr/local/bin/runner"]
CMD ["serve"]
