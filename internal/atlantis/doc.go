// Package atlantis converts an Atlantis repo config (atlantis.yaml, version 3) into the runner's .runner.yaml,
// and lists every key or value it could not carry over, with its line, so that nothing is dropped silently.
//
//	res, err := atlantis.Convert(data)   // err: not an atlantis.yaml that can be read (an *Error)
//	os.Stdout.Write(res.Config)          // parses with config.ParseRepo
//	for _, n := range res.Notes { fmt.Println(n.Format("atlantis.yaml")) }
//	// atlantis.yaml:12: projects[2].apply_requirements [mergeable]: not mapped: ...
//
// A note is "not mapped" (no equivalent: left out), "error" (atlantis.yaml holds something .runner.yaml
// cannot: renamed or left out, as the note says), "note" (mapped, with a difference worth reading) or
// "warning". The input is bounded: MaxFileSize bytes, MaxProjects projects, and aliases that expand past
// two million YAML nodes; a key given twice in one mapping is an error, as in Atlantis.
//
// # Projects
//
// Each Atlantis project becomes a project of .runner.yaml:
//
//   - name: kept. A project without one is named after its dir ("root" for "."), plus "-<workspace>" when the
//     workspace is not default. A name .runner.yaml cannot hold (letters, digits, '.', '_', '-', '/', at most
//     128) is an error, and the project gets a sanitised name (other characters become '-'), which the note
//     states; a name already taken gets "-2", "-3"...
//   - dir, workspace: kept (dir cleaned as Atlantis cleans it). A project whose dir is missing, leaves the
//     repository, holds a glob (Atlantis expands those at plan time) or whose workspace .runner.yaml cannot
//     hold is left out, and so is a project whose dir and workspace (or backend key) another project already
//     has: in .runner.yaml the two would share state.
//   - terraform_version: kept when it is an exact version (1.5.7, v1.5.7); a constraint is not mapped.
//   - autoplan.when_modified: kept as when_modified (both are relative to the project's dir). Atlantis's list
//     replaces its default (["**/*.tf*", "**/terragrunt.hcl", "**/.terraform.lock.hcl"]); the runner's globs
//     are extra, and its projects always include their own files and the local modules they call: noted.
//     Negated globs ("!x") are not mapped. autoplan.enabled: false has no equivalent: not mapped.
//   - apply_requirements, plan_requirements, import_requirements: approved makes the project's environment
//     require_approval: true (which then covers every project of that environment: noted when they did not
//     all ask). mergeable and undiverged are not mapped: who may apply, and when, is the runner's server
//     policy (RUNNER_REPOS_CONFIG), which .runner.yaml can only tighten; and the runner applies after merge,
//     from the deploy branch.
//   - workflow: the workflow of the same name (sanitised to .runner.yaml's workflow names). A workflow that
//     atlantis.yaml does not define (a server-side one) is not mapped: the project uses the default workflow.
//     When every project of an environment uses one workflow it becomes the environment's workflow.
//   - execution_order_group: a project depends on every project of its environment in the nearest lower
//     group (group 0 when unset, as in Atlantis). That is the same order as depending on every lower group,
//     which follows through the groups in between, and keeps depends_on short (.runner.yaml allows 100).
//     Environments deploy in their own order, so groups that ordered projects across environments differently
//     are noted.
//   - depends_on: kept for projects of the same environment; a dependency on a project of another
//     environment, on a project that is not there or left out, or that would close a cycle, is not mapped.
//   - branch: a regex naming one branch (/main/, /^release-1\.2$/) becomes the environment's branch when
//     every project of the environment names the same one (an unanchored regex matched more: noted);
//     otherwise not mapped.
//   - delete_source_branch_on_merge, repo_locking, repo_locks, custom_policy_check, policy_check,
//     silence_pr_comments, terraform_distribution, glob_file_match: not mapped, each with its reason.
//
// # Environments
//
// Projects are grouped into environments by the first of these rules that applies to the project:
//
//  1. layout: the dir's first segment named env, envs, environment, environments, live or stages
//     (whatever the case), when a segment follows it, names the environment: environments/prod/us-east-1/network
//     and live/prod/eu-west-1/vpc are in prod;
//  2. workspace: else the project's workspace, when it is not default: workspace staging is in staging;
//  3. name: else the first segment of the dir that is one of dev, development, test, qa, staging, stage, uat,
//     preprod, prod, production (whatever the case): infra/prod/network is in prod;
//  4. else the environment default.
//
// Environment names are lower-cased; characters other than a-z, 0-9, '-' and '_' become '-', leading '-'
// and '_' are dropped, and the name is cut to 63 characters ("" becomes default). A name that changed other
// than by case is noted.
//
// Environments deploy in this order: dev-like (dev, development, test, testing, qa, sandbox), then
// staging-like (staging, stage, stg, uat, preprod, pre-prod), then prod-like (prod, production, prd), then
// the others; alphabetically within each. A name is classed by itself, else by its part before the first '-'
// or '_' (prod-eu is prod-like).
//
// # Workflows
//
// Each workflow keeps its name (sanitised). Its plan stage becomes the plan phase and its apply stage the
// apply phase; a stage atlantis.yaml leaves out is Atlantis's default (init, plan / apply). Steps:
//
//   - init, plan, apply: kept. Their extra_args are not mapped, except -var-file on plan and -backend-config
//     on init (below). A second init or plan step, or an init after plan, is not mapped.
//   - show: dropped (the runner shows every plan itself): listed.
//   - policy_check: a policy step ({policy: {}}: the server's policies), placed after plan. The policy_check
//     stage's steps are added to the plan phase after plan: noted, since Atlantis ran that stage only when
//     its server had policy checks enabled.
//   - run: a run step (the runner also runs it with /bin/sh -c in the project's folder). A command that is
//     tflint with plain arguments becomes a tflint step with those arguments. A command that runs terraform,
//     tofu or terragrunt init, plan, apply or show is replaced by the runner's own step of that name (show:
//     dropped), since keeping it would plan or apply twice and use Atlantis's $PLANFILE: listed. The run
//     options output, shell and shellArgs are not mapped, nor are the Atlantis variables the runner does not
//     set ($REPO_REL_DIR, $PULL_AUTHOR, ...; it sets $PLANFILE and $SHOWFILE after the plan, $WORKSPACE, $DIR,
//     $PROJECT_NAME, $PULL_NUM and $HEAD_COMMIT): such a step is kept and listed, to be checked.
//   - env, multienv, import, state_rm, and the import and state_rm stages: not mapped (the runner's run steps
//     get the project's environment; it has no import or state rm commands).
//   - A plan phase without a plan step (Atlantis allows it) gets one at its end, and one without init gets
//     an init before its plan step (the runner plans in a fresh checkout); an apply phase without an apply
//     step gets one: noted.
//
// Var files: Atlantis passes them as extra_args of a workflow's plan step ("-var-file=prod.tfvars" or
// "-var-file", "prod.tfvars"). When every project using that workflow can take them (paths relative to its
// dir, inside the repository) they become var_files of those projects: noted; otherwise not mapped. The
// same holds for -backend-config on init, which becomes backend_config. -var-file on apply is not mapped:
// the runner applies the saved plan, which holds the variables.
//
// # Top level
//
// version must be 3; version 2 is read as 3 with a warning (version 2 parsed run commands with shell
// escaping). automerge, autodiscover, parallel_plan, parallel_apply, abort_on_execution_order_fail,
// delete_source_branch_on_merge, allowed_regexp_prefixes, emoji_reaction, repo_locks, silence_pr_comments
// and policies are not mapped, each with its reason. The output sets apps: [] (Atlantis builds no apps;
// without the key the runner would build apps/backend and apps/frontend where they exist). A file without
// projects gives a .runner.yaml without environments: the runner then discovers environments/*.
//
// The output always parses with config.ParseRepo: whatever would make it invalid is listed and left out:
// projects past the 1000 an environment may have, depends_on past 100 a project may have, steps past 100 a
// phase may have, and, should the file pass the 1 MiB .runner.yaml may have, the workflows no project uses.
package atlantis
