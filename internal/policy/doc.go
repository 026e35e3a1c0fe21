// Package policy is the operator's server-side repository policy (RUNNER_REPOS_CONFIG): who may have a pull
// request planned, and what a repository's .runner.yaml may set, which is only ever to tighten the policy.
//
// The file is YAML, parsed strictly (see testdata/example.repos.yaml for every key):
//
//	p, err := policy.Load(path)          // or policy.Parse(data); &policy.Policy{} without a file
//	p.AllowForkPRs = cfg.AllowForkPRs    // RUNNER_ALLOW_FORK_PRS: the fork_prs default
//	rp := p.For("acme/app")              // the first entry whose match globs fit, else the built-in default
//
// Who may trigger a plan:
//
//	perms := policy.NewPermissions(ghClient, policy.PermissionsOptions{})  // cached GitHub look-ups
//	d, err := p.MayPlan(ctx, perms, policy.PR{...})  // fork, then draft, then the author's access
//	// !d.Allowed: post a neutral status and one comment with d.Reason and d.Hint
//
// Permissions.Allows(ctx, repo, user, Rule{MinLevel, Teams, Users}) is the general check, for other
// commands too: at least a level (read < triage < write < maintain < admin), or a team, or a named user.
// MayPlan takes it as a Checker, so tests can pass a fake.
//
// What a repository's configuration becomes under the policy:
//
//	eff, err := rp.Apply(repoCfg)  // err: config.RepoErrors, refusals with .runner.yaml lines, to post
//	eff.DeployedFrom("main")       // the environments a push to main deploys; other branches: none
//	policy.Diff(baseEff, headEff)  // "prod: require_approval true -> false (refused by the server policy)"
//	rp.CheckTerraform("1.9.0")     // terraform_versions
//
// Deploys apply the policy to the deploy branch's .runner.yaml; a pull request's own file only plans that
// pull request. Roles, approvers and the environment Terraform inherits (pass_env) come only from the policy.
//
// Without a policy file (the zero Policy), and for a repository no entry matches: forks as
// RUNNER_ALLOW_FORK_PRS (default off), no drafts, the author needs write access, no roles, and
// .runner.yaml may set every key, deploy branches included (deploys read the default branch's copy).
package policy
