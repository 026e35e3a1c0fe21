#!/usr/bin/env bash
# Installs the infrastructure tools into $HOME/.cache/gitops-runner (idempotent) and prints their paths:
#   terraform 1.5.7 -> tf/1.5.7/terraform, tflint, tfsec and gotestsum -> bin/.
# Everything is built with `go install` (only the Go module proxy is needed). Usage:
#   scripts/install-tools.sh [terraform] [tflint] [tfsec] [gotestsum]     (no argument: all four)
# Environment: TERRAFORM_BIN (use this terraform instead of installing one), TERRAFORM_VERSION (1.5.7),
# TFLINT_VERSION (v0.64.0), TFSEC_VERSION (v1.26.0), GOTESTSUM_VERSION (v1.13.0); "latest" works for the last three.
# A go install prints what it builds and how long it has been at it every 15 s (HEARTBEAT_SECONDS).
set -euo pipefail

CACHE="${GITOPS_RUNNER_CACHE:-$HOME/.cache/gitops-runner}"
TERRAFORM_VERSION="${TERRAFORM_VERSION:-1.5.7}"
TFLINT_VERSION="${TFLINT_VERSION:-v0.64.0}"
TFSEC_VERSION="${TFSEC_VERSION:-v1.26.0}"
GOTESTSUM_VERSION="${GOTESTSUM_VERSION:-v1.13.0}"
HEARTBEAT="$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"

# go_install MODULE_PATH@VERSION DEST: builds into a private directory and moves the binary into place,
# so an interrupted or concurrent install never leaves a half-written binary at DEST.
go_install() {
	local pkg="$1" dest="$2" tmp start
	mkdir -p "$(dirname "$dest")"
	tmp="$(mktemp -d "$(dirname "$dest")/.install.XXXXXX")"
	start=$SECONDS
	echo "install-tools: go install $pkg (compiles it from source: minutes the first time, cached after)" >&2
	if ! GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
		"$HEARTBEAT" "installing $(basename "${pkg%@*}") via go install $pkg" go install "$pkg" >&2; then
		rm -rf "$tmp"
		echo "install-tools: go install $pkg failed" >&2
		return 1
	fi
	mv -f "$tmp/$(basename "${pkg%@*}")" "$dest"
	rm -rf "$tmp"
	echo "install-tools: installed $dest in $((SECONDS - start))s" >&2
}

# module_version BINARY: the main module version recorded in a Go binary ("" if none).
module_version() {
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# ensure NAME MODULE PACKAGE VERSION DEST: installs unless DEST is already that version.
ensure() {
	local name="$1" module="$2" pkg="$3" version="$4" dest="$5"
	if [[ -x "$dest" && "$version" != "latest" && "$(module_version "$dest")" == "$version" ]]; then
		:
	elif [[ -x "$dest" && "$version" == "latest" ]]; then
		:
	else
		go_install "$pkg@$version" "$dest"
	fi
	echo "$name=$dest ($module $(module_version "$dest"))"
}

install_terraform() {
	if [[ -n "${TERRAFORM_BIN:-}" ]]; then
		if [[ ! -x "$TERRAFORM_BIN" ]]; then
			echo "install-tools: TERRAFORM_BIN=$TERRAFORM_BIN is not executable" >&2
			return 1
		fi
		echo "terraform=$TERRAFORM_BIN ($(TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 "$TERRAFORM_BIN" version | head -n1))"
		return
	fi
	ensure terraform github.com/hashicorp/terraform github.com/hashicorp/terraform "v$TERRAFORM_VERSION" \
		"$CACHE/tf/$TERRAFORM_VERSION/terraform"
}

install_tflint() {
	ensure tflint github.com/terraform-linters/tflint github.com/terraform-linters/tflint "$TFLINT_VERSION" "$CACHE/bin/tflint"
}

install_tfsec() {
	ensure tfsec github.com/aquasecurity/tfsec github.com/aquasecurity/tfsec/cmd/tfsec "$TFSEC_VERSION" "$CACHE/bin/tfsec"
}

install_gotestsum() {
	ensure gotestsum gotest.tools/gotestsum gotest.tools/gotestsum "$GOTESTSUM_VERSION" "$CACHE/bin/gotestsum"
}

main() {
	local tools=("$@")
	[[ ${#tools[@]} -gt 0 ]] || tools=(terraform tflint tfsec gotestsum)
	command -v go >/dev/null || { echo "install-tools: go is required" >&2; exit 1; }
	mkdir -p "$CACHE"
	for tool in "${tools[@]}"; do
		case "$tool" in
		terraform | tflint | tfsec | gotestsum) ;;
		*)
			echo "install-tools: unknown tool $tool (terraform, tflint, tfsec, gotestsum)" >&2
			exit 2
			;;
		esac
		# One installer per tool at a time: concurrent CI steps would otherwise build it twice.
		(
			flock 9
			"install_$tool"
		) 9>"$CACHE/.install-$tool.lock"
	done
}

main "$@"
