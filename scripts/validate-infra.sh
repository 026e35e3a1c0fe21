#!/usr/bin/env bash
# Validates terraform/, environments/ and deploy/terraform/ offline (`make validate-infra`):
#   1. terraform fmt -check
#   2. per root -- the account-level roots terraform/bootstrap and terraform/shared first, then every
#      environment -- in a scratch copy with a local backend: init, validate, plan, show -json
#      -> build/infra/<root>.plan.json (bootstrap, shared, dev, ...), with hashicorp/aws served by the
#      schema-replay provider (tools/); only environments must create INFRA_MIN_RESOURCES resources.
#      Each environment's plan is then applied with the same provider (it fills what AWS would
#      compute with deterministic values) and its state written to build/infra/<env>.applied.json,
#      for the assertions on values only known after apply (secret ARNs, security group IDs). Then the
#      runner's own example root deploy/terraform/example, planned and applied the same way
#      -> build/infra/deploy-example.{plan,applied}.json
#   3. the plan assertions in tests/infra (go test, INFRA_PLAN_DIR)
#   4. tflint (built-in terraform ruleset) with no errors, tfsec with no HIGH or CRITICAL finding
# Any error, and any warning other than the notices the offline provider setup causes, fails the run.
# Environment: INFRA_MIN_RESOURCES (50), INFRA_PLAN_DIR (build/infra), INFRA_ENVS ("dev staging prod":
# default every directory under environments/), INFRA_ROOTS ("bootstrap shared": default every
# directory under terraform/ with .tf files except modules), INFRA_DEPLOY_ROOTS ("deploy/terraform/example":
# the default; empty for none), TERRAFORM_BIN, AWS_REPLAY_SCHEMA,
# AWS_REPLAY_OVERRIDES (replaces the replay provider's built-in overrides), INFRA_KEEP_WORK=1 (keep the scratch
# directory with every terraform log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MIN_RESOURCES="${INFRA_MIN_RESOURCES:-50}"
PLAN_DIR="${INFRA_PLAN_DIR:-build/infra}"
[[ "$PLAN_DIR" = /* ]] || PLAN_DIR="$ROOT/$PLAN_DIR"

log() { printf '== %s\n' "$*"; }
fail() {
	printf 'validate-infra: FAIL: %s\n' "$*" >&2
	exit 1
}

# --- the replayed schema ---------------------------------------------------------------------------
if [[ -z "${AWS_REPLAY_SCHEMA:-}" ]]; then
	for f in aws-provider-schema-6.47.0.json.gz aws-provider-schema-4.36.1.json.gz; do
		if [[ -f "$ROOT/../shared/terraform/$f" ]]; then
			AWS_REPLAY_SCHEMA="$ROOT/../shared/terraform/$f"
			break
		fi
	done
fi
if [[ -n "${AWS_REPLAY_SCHEMA:-}" && ! -f "$AWS_REPLAY_SCHEMA" ]]; then
	fail "AWS_REPLAY_SCHEMA=$AWS_REPLAY_SCHEMA does not exist"
fi
if [[ -z "${AWS_REPLAY_SCHEMA:-}" ]]; then
	echo "SKIP: validate-infra: no aws provider schema (../shared/terraform/aws-provider-schema-*.json.gz or AWS_REPLAY_SCHEMA); nothing was checked"
	exit 0
fi
AWS_REPLAY_SCHEMA="$(cd "$(dirname "$AWS_REPLAY_SCHEMA")" && pwd)/$(basename "$AWS_REPLAY_SCHEMA")"
export AWS_REPLAY_SCHEMA
# AWS_REPLAY_OVERRIDES, when set, replaces the replay provider's built-in overrides
# (tools/internal/replay/overrides.json, which holds RDS's master user secret the environments read).
if [[ -n "${AWS_REPLAY_OVERRIDES:-}" ]]; then
	[[ -f "$AWS_REPLAY_OVERRIDES" ]] || fail "AWS_REPLAY_OVERRIDES=$AWS_REPLAY_OVERRIDES does not exist"
	export AWS_REPLAY_OVERRIDES
fi
# The provider version the filesystem mirror offers is the schema's, so `version` constraints are checked.
AWS_VERSION="$(basename "$AWS_REPLAY_SCHEMA" | sed -nE 's/^aws-provider-schema-([0-9]+\.[0-9]+\.[0-9]+)\.json(\.gz)?$/\1/p')"
AWS_VERSION="${AWS_VERSION:-6.47.0}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/validate-infra.XXXXXX")"
LINT_PID=""
cleanup() {
	if [[ -n "$LINT_PID" ]] && kill -0 "$LINT_PID" 2>/dev/null; then
		kill "$LINT_PID" 2>/dev/null || true
		wait "$LINT_PID" 2>/dev/null || true
	fi
	if [[ -n "${INFRA_KEEP_WORK:-}" ]]; then
		echo "validate-infra: kept the scratch directory $WORK (terraform logs, plans, CLI config)"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# --- tools: terraform now, the linters in the background (they take minutes to build the first time) ---
TOOLS="$("$ROOT/scripts/install-tools.sh" terraform)" || fail "installing terraform"
TF="$(sed -n 's/^terraform=\([^ ]*\).*/\1/p' <<<"$TOOLS")"
"$ROOT/scripts/install-tools.sh" tflint tfsec >"$WORK/linters.out" 2>"$WORK/linters.err" &
LINT_PID=$!

export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset TF_WORKSPACE TF_DATA_DIR TF_PLUGIN_CACHE_DIR
log "terraform: $TF ($(TF_CLI_CONFIG_FILE=/dev/null "$TF" version | head -n1)); schema: $AWS_REPLAY_SCHEMA"

# --- the schema-replay provider -------------------------------------------------------------------
log "building the schema-replay provider (tools/cmd/terraform-provider-aws)"
mkdir -p "$WORK/provider" "$WORK/mirror/registry.terraform.io/hashicorp/aws/$AWS_VERSION/linux_amd64"
(cd "$ROOT/tools" && go build -o "$WORK/provider/terraform-provider-aws" ./cmd/terraform-provider-aws) ||
	fail "building the schema-replay provider"
# init resolves versions even with dev_overrides and would ask the registry: a mirror answers instead.
cp "$WORK/provider/terraform-provider-aws" \
	"$WORK/mirror/registry.terraform.io/hashicorp/aws/$AWS_VERSION/linux_amd64/terraform-provider-aws_v$AWS_VERSION"
cat >"$WORK/terraformrc" <<EOF
provider_installation {
  dev_overrides {
    "hashicorp/aws" = "$WORK/provider"
  }
  filesystem_mirror {
    path    = "$WORK/mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$WORK/terraformrc"

# tf_step NAME LOG ARGS...: runs terraform, keeps its output, fails on an error or an unexpected warning.
ALLOWED_WARNINGS='^Warning: (Provider development overrides are in effect|Incomplete lock file information for providers)$'
tf_step() {
	local name="$1" out="$2"
	shift 2
	if ! "$TF" "$@" -no-color >"$out" 2>&1; then
		cat "$out" >&2
		fail "$name: terraform $1 failed"
	fi
	local unexpected
	unexpected="$(grep -E '^Warning: ' "$out" | grep -vE "$ALLOWED_WARNINGS" || true)"
	if [[ -n "$unexpected" ]]; then
		cat "$out" >&2
		fail "$name: terraform $1 warned: $(tr '\n' ';' <<<"$unexpected")"
	fi
}

# --- 1. formatting ----------------------------------------------------------------------------------
log "terraform fmt -check -recursive terraform environments deploy/terraform"
fmt_dirs=()
for d in terraform environments deploy/terraform; do [[ -d "$d" ]] && fmt_dirs+=("$d"); done
[[ ${#fmt_dirs[@]} -gt 0 ]] || fail "no terraform/ or environments/ directory"
if ! "$TF" fmt -check -recursive -diff -no-color "${fmt_dirs[@]}" >"$WORK/fmt.out" 2>&1; then
	cat "$WORK/fmt.out" >&2
	fail "terraform fmt: the files above need \`terraform fmt -recursive\`"
fi

# --- 2. init / validate / plan per root -------------------------------------------------------------
# A scratch tree: the repository's entries as symlinks (module sources like ../../terraform/modules and
# templates under apps/ resolve as in the repository) and copies of the roots we plan, which we write into.
mkdir -p "$WORK/tree/environments" "$WORK/tree/terraform" "$WORK/state" "$PLAN_DIR"
shopt -s nullglob
for entry in "$ROOT"/* "$ROOT"/.[!.]*; do
	case "$(basename "$entry")" in
	environments | terraform | deploy | .git | build) ;;
	*) ln -s "$entry" "$WORK/tree/$(basename "$entry")" ;;
	esac
done

# The runner's own roots (deploy/terraform/example): their parent folders are real in the scratch tree,
# with every other entry linked, so the copies plan_root writes stay out of the repository.
read -r -a deploy_roots <<<"${INFRA_DEPLOY_ROOTS-deploy/terraform/example}"
link_beside() { # link_beside DIR KEEP...: DIR's entries into the scratch tree, except those named KEEP
	local dir="$1" entry
	shift
	mkdir -p "$WORK/tree/$dir"
	for entry in "$ROOT/$dir"/*; do
		[[ " $* " == *" $(basename "$entry") "* ]] || ln -s "$entry" "$WORK/tree/$dir/$(basename "$entry")"
	done
}
if [[ -d deploy ]]; then
	keep=()
	for r in "${deploy_roots[@]}"; do keep+=("$(cut -d/ -f2 <<<"$r")"); done
	link_beside deploy "${keep[@]}"
	keep=()
	for r in "${deploy_roots[@]}"; do keep+=("$(cut -d/ -f3 <<<"$r")"); done
	[[ ! -d deploy/terraform ]] || link_beside deploy/terraform "${keep[@]}"
fi

# Account-level roots under terraform/, in apply order: bootstrap, shared, then any other.
if [[ -n "${INFRA_ROOTS+set}" ]]; then
	read -r -a roots <<<"$INFRA_ROOTS"
else
	roots=()
	for r in bootstrap shared; do [[ -d "terraform/$r" ]] && roots+=("$r"); done
	for d in terraform/*/; do
		r="$(basename "$d")"
		tf_files=("$d"*.tf)
		[[ "$r" != modules && ${#tf_files[@]} -gt 0 ]] || continue
		[[ " ${roots[*]} " == *" $r "* ]] || roots+=("$r")
	done
fi
# Everything else under terraform/ (the modules) is linked; plan_root copies the roots.
for entry in "$ROOT"/terraform/*; do
	[[ " ${roots[*]} " == *" $(basename "$entry") "* ]] || ln -s "$entry" "$WORK/tree/terraform/$(basename "$entry")"
done

if [[ -n "${INFRA_ENVS:-}" ]]; then
	read -r -a envs <<<"$INFRA_ENVS"
else
	envs=()
	for d in environments/*/; do
		tf_files=("$d"*.tf)
		[[ ${#tf_files[@]} -gt 0 ]] && envs+=("$(basename "$d")")
	done
fi
[[ ${#envs[@]} -gt 0 ]] || fail "no environments under environments/"

# plan_root NAME SRC: copies the root SRC (relative to the repository) into the scratch tree with a local
# backend, runs init, validate, plan and show -json -> $PLAN_DIR/NAME.plan.json, and records the number
# of resources the plan creates in counts[NAME].
declare -A counts
plan_root() {
	local name="$1" src="$2" start=$SECONDS n
	local dir="$WORK/tree/$src"
	[[ -d "$src" ]] || fail "$name: no directory $src"
	mkdir -p "$dir"
	# The committed lock file pins the real provider's checksums, which the replay binary cannot match.
	(cd "$src" && tar --exclude=.terraform --exclude='*.tfstate*' --exclude=.terraform.lock.hcl \
		--exclude='*.tfplan' -cf - .) | (cd "$dir" && tar -xf -)
	cat >"$dir/zz_backend_override.tf" <<EOF
# Written by scripts/validate-infra.sh: plan against an empty local state instead of the S3 backend.
terraform {
  backend "local" {
    path = "$WORK/state/$name.tfstate"
  }
}
EOF
	log "$name: init"
	(cd "$dir" && tf_step "$name" "$WORK/$name.init.log" init -input=false)
	log "$name: validate"
	(cd "$dir" && tf_step "$name" "$WORK/$name.validate.log" validate)
	log "$name: plan"
	(cd "$dir" && tf_step "$name" "$WORK/$name.plan.log" plan -input=false -lock=false -out="$WORK/$name.tfplan")
	(cd "$dir" && "$TF" show -json -no-color "$WORK/$name.tfplan" >"$PLAN_DIR/$name.plan.json") ||
		fail "$name: terraform show -json failed"
	n="$(jq '[.resource_changes[]? | select(.mode == "managed" and (.change.actions | index("create")))] | length' \
		"$PLAN_DIR/$name.plan.json")"
	counts[$name]=$n
	log "$name: plan creates $n resources ($((SECONDS - start))s) -> ${PLAN_DIR#"$ROOT"/}/$name.plan.json"
}

# apply_root NAME SRC: applies the plan plan_root saved for NAME (the replay provider fills every
# value AWS would compute) and writes the resulting state -> $PLAN_DIR/NAME.applied.json.
apply_root() {
	local name="$1" src="$2" start=$SECONDS
	local dir="$WORK/tree/$src"
	log "$name: apply (schema-replay provider, local scratch state)"
	(cd "$dir" && tf_step "$name" "$WORK/$name.apply.log" apply -input=false -lock=false "$WORK/$name.tfplan")
	(cd "$dir" && "$TF" show -json -no-color >"$PLAN_DIR/$name.applied.json") ||
		fail "$name: terraform show -json (state) failed"
	log "$name: applied ($((SECONDS - start))s) -> ${PLAN_DIR#"$ROOT"/}/$name.applied.json"
}

for root in "${roots[@]}"; do
	[[ -d "terraform/$root" && "$root" != modules ]] || fail "$root: no root directory terraform/$root"
	plan_root "$root" "terraform/$root"
done
for env in "${envs[@]}"; do
	[[ -d "environments/$env" ]] || fail "$env: no directory environments/$env"
	[[ " ${roots[*]} " != *" $env "* ]] || fail "$env: environments/$env and terraform/$env would both write $env.plan.json"
	plan_root "$env" "environments/$env"
	# The minimum applies to environments only: the account-level roots are small on purpose.
	[[ "${counts[$env]}" -ge "$MIN_RESOURCES" ]] ||
		fail "$env: plan creates ${counts[$env]} resources, fewer than INFRA_MIN_RESOURCES=$MIN_RESOURCES"
	apply_root "$env" "environments/$env"
done

for src in "${deploy_roots[@]}"; do
	[[ "$src" == deploy/terraform/* && -d "$src" ]] || fail "$src: not a directory under deploy/terraform"
	plan_root "deploy-$(basename "$src")" "$src"
	apply_root "deploy-$(basename "$src")" "$src"
done

# --- 3. plan assertions -----------------------------------------------------------------------------
if [[ -d tests/infra ]]; then
	log "go test ./tests/infra/... (INFRA_PLAN_DIR=$PLAN_DIR)"
	INFRA_PLAN_DIR="$PLAN_DIR" go test -count=1 ./tests/infra/... || fail "plan assertions (tests/infra)"
else
	log "tests/infra does not exist yet: no plan assertions run"
fi

# --- 4. static analysis -----------------------------------------------------------------------------
log "waiting for tflint and tfsec"
if ! wait "$LINT_PID"; then
	LINT_PID=""
	cat "$WORK/linters.err" >&2
	fail "installing tflint/tfsec"
fi
LINT_PID=""
TFLINT="$(sed -n 's/^tflint=\([^ ]*\).*/\1/p' "$WORK/linters.out")"
TFSEC="$(sed -n 's/^tfsec=\([^ ]*\).*/\1/p' "$WORK/linters.out")"

tflint_args=(--recursive --format=compact --no-color --minimum-failure-severity=error)
if [[ -f "$ROOT/.tflint.hcl" ]]; then
	tflint_args+=(--config="$ROOT/.tflint.hcl")
	log "tflint (config .tflint.hcl)"
else
	log "tflint (no .tflint.hcl: default rules)"
fi
for d in "${fmt_dirs[@]}"; do
	if ! (cd "$d" && TFLINT_PLUGIN_DIR="$WORK/tflint-plugins" "$TFLINT" "${tflint_args[@]}"); then
		fail "tflint reported errors in $d/"
	fi
done

log "tfsec --minimum-severity HIGH"
# tfsec exits non-zero on any finding; its JSON says which, and only HIGH and CRITICAL fail the run.
"$TFSEC" "$ROOT" --no-color --format json --soft-fail --exclude-downloaded-modules \
	--exclude-path build --exclude-path tools >"$WORK/tfsec.json" 2>"$WORK/tfsec.err" ||
	{
		cat "$WORK/tfsec.err" >&2
		fail "tfsec did not run"
	}
jq -r '.results // [] | .[] | "\(.severity)\t\(.long_id // .rule_id)\t\(.location.filename | sub(".*/(?<p>(terraform|environments)/)"; "\(.p)")):\(.location.start_line)\t\(.description)"' \
	"$WORK/tfsec.json" | sort | uniq >"$WORK/tfsec.txt"
if [[ -s "$WORK/tfsec.txt" ]]; then
	echo "tfsec findings:"
	cat "$WORK/tfsec.txt"
fi
high="$(awk -F'\t' '$1 == "HIGH" || $1 == "CRITICAL"' "$WORK/tfsec.txt" | wc -l)"
[[ "$high" -eq 0 ]] || fail "tfsec: $high HIGH or CRITICAL findings"

summary=""
for name in "${roots[@]}" "${envs[@]}" "${deploy_roots[@]/#deploy\/terraform\//deploy-}"; do summary+=" $name=${counts[$name]}"; done
log "validate-infra: OK (resources created per plan:$summary)"
