package bigrepo

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// The names the layout draws from. Lists, not maps: the layout must come out the same every time.
var (
	envNames = []string{"dev", "staging", "prod", "qa", "perf", "sandbox", "prod-eu", "prod-us", "prod-ap", "dr",
		"shared-services", "security", "data", "edge", "ml", "ops"}
	moduleNames = []string{"network", "platform", "dns", "iam", "eks", "rds", "s3-bucket", "cloudfront", "waf", "alb",
		"nlb", "ecr", "ecs-service", "lambda", "sqs", "sns", "kinesis", "msk", "elasticache", "opensearch",
		"vpc-endpoints", "transit-gateway", "route53-zone", "acm", "kms", "secrets", "ssm", "cloudwatch", "alarms",
		"dashboards", "backup", "guardduty", "securityhub", "config-rules", "organizations", "sso", "bastion",
		"nat", "vpn", "direct-connect", "efs", "fsx", "dynamodb", "aurora", "redshift", "glue", "athena", "emr",
		"sagemaker", "batch", "step-functions", "eventbridge", "api-gateway", "cognito", "ses", "pinpoint",
		"autoscaling", "launch-template", "image-builder", "codebuild", "codepipeline", "artifacts", "logs",
		"flow-logs", "shield", "firewall", "inspector", "macie", "cost", "tags"}
	appNames = []string{"api", "web", "worker", "billing", "auth", "search", "notifications", "payments", "orders",
		"inventory", "catalog", "checkout", "gateway", "reports", "scheduler", "ingest", "exporter", "admin",
		"mobile-bff", "ledger", "pricing", "recommendations", "profile", "audit", "media", "mailer", "webhooks",
		"analytics", "feature-flags", "geo", "chat", "support", "partners", "fraud", "shipping", "returns",
		"loyalty", "tax", "quotes", "invoices", "identity", "sessions", "uploads", "thumbnails", "streams",
		"metrics", "tracing", "status", "cron", "sync"}
	words = []string{"cache", "client", "config", "handler", "store", "queue", "retry", "limit", "token", "route",
		"schema", "model", "event", "batch", "stream", "policy", "metric", "probe", "index", "shard", "lease",
		"quota", "audit", "export", "import", "render", "filter", "merge", "split", "parse"}
	docAreas = []string{"adr", "runbooks", "onboarding", "architecture", "incidents", "howto", "security", "oncall"}
	verbs    = []string{"bump", "fix", "add", "remove", "tune", "rename", "document", "refactor", "raise", "lower",
		"pin", "split", "enable", "disable", "rotate"}
)

// kind is how a file's text is built, and how the random part is commented so the file stays valid.
type kind int

const (
	kindHCL      kind = iota // .tf, .tfvars: "# " lines after the blocks
	kindGo                   // .go: "// " lines after the code
	kindMarkdown             // .md: plain paragraphs
	kindYAML                 // .yaml, .yml: "# " lines after the document
	kindStatic               // written once, never rewritten (.runner.yaml, go.mod, CODEOWNERS ...)
)

// file is one path of the tree and the area it belongs to (where changes to it come from).
type file struct {
	path   string
	kind   kind
	area   string // "env:dev", "module:network", "app:api", "docs", "root"
	header string // the fixed part of the text (HCL blocks, package clause ...)
}

// layout is the tree of the repository: the paths of environments/, terraform/modules/, apps/, docs/ and
// the root, sorted.
type layout struct {
	files   []file
	envs    []string
	modules []string
	byArea  map[string][]int // indexes into files
	areas   []string         // sorted keys of byArea
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// newLayout sizes each part from the number of files wanted: 12 environments, 60 modules and 40 apps
// for 5,000 files; fewer (never fewer than 3, 4 and 2) for the small repositories of the tests.
func newLayout(files int, r *rand.Rand) *layout {
	l := &layout{byArea: map[string][]int{}}
	l.envs = envNames[:clamp(files/400, 3, len(envNames))]
	l.modules = moduleNames[:clamp(files/80, 4, len(moduleNames))]
	docs := clamp(files/33, 5, 400)
	var fs []file
	add := func(f file) { fs = append(fs, f) }

	add(file{path: ".runner.yaml", kind: kindStatic, area: "root", header: runnerYAML(l.envs)})
	add(file{path: "README.md", kind: kindMarkdown, area: "root", header: "# platform\n\nInfrastructure, services and docs of the platform team.\n\n"})
	add(file{path: "CODEOWNERS", kind: kindStatic, area: "root", header: "* @acme/platform\n/environments/prod*/ @acme/sre\n"})
	add(file{path: ".gitignore", kind: kindStatic, area: "root", header: ".terraform/\n*.tfstate\n*.tfplan\nnode_modules/\n"})
	add(file{path: ".github/workflows/ci.yml", kind: kindYAML, area: "root", header: "name: ci\non: [pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"})

	for i, m := range l.modules {
		dir := "terraform/modules/" + m
		area := "module:" + m
		calls := ""
		// A module calls up to three modules listed before it, so the calls never form a cycle.
		for j := 0; j < min(i, r.IntN(4)); j++ {
			callee := l.modules[r.IntN(i)]
			calls += fmt.Sprintf("module %q {\n  source = \"../%s\"\n  env    = var.env\n}\n\n", fmt.Sprintf("%s_%d", strings.ReplaceAll(callee, "-", "_"), j), callee)
		}
		add(file{path: dir + "/main.tf", kind: kindHCL, area: area, header: calls +
			fmt.Sprintf("resource \"terraform_data\" \"this\" {\n  input = {\n    env    = var.env\n    module = %q\n  }\n}\n\n", m)})
		add(file{path: dir + "/variables.tf", kind: kindHCL, area: area, header: "variable \"env\" {\n  type = string\n}\n\n"})
		add(file{path: dir + "/outputs.tf", kind: kindHCL, area: area, header: "output \"id\" {\n  value = terraform_data.this.id\n}\n\n"})
		add(file{path: dir + "/versions.tf", kind: kindHCL, area: area, header: "terraform {\n  required_version = \">= 1.5\"\n}\n\n"})
		add(file{path: dir + "/README.md", kind: kindMarkdown, area: area, header: "# module " + m + "\n\n"})
		for j := 0; j < 5; j++ {
			add(file{path: fmt.Sprintf("%s/%s.tf", dir, words[(i*5+j)%len(words)]), kind: kindHCL, area: area,
				header: fmt.Sprintf("resource \"terraform_data\" %q {\n  input = var.env\n}\n\n", words[(i*5+j)%len(words)])})
		}
	}

	for i, env := range l.envs {
		dir := "environments/" + env
		area := "env:" + env
		var calls strings.Builder
		for j, m := range pick(r, l.modules, 6+r.IntN(5)) {
			if i == 0 && j == 0 {
				m = "network" // dev calls network directly: the sparse benchmark checks out both
			}
			fmt.Fprintf(&calls, "module %q {\n  source = \"../../terraform/modules/%s\"\n  env    = %q\n}\n\n", strings.ReplaceAll(m, "-", "_")+fmt.Sprint(j), m, env)
		}
		add(file{path: dir + "/main.tf", kind: kindHCL, area: area, header: calls.String()})
		add(file{path: dir + "/backend.tf", kind: kindStatic, area: area, header: "terraform {\n  backend \"local\" {}\n}\n"})
		add(file{path: dir + "/variables.tf", kind: kindHCL, area: area, header: "variable \"region\" {\n  type    = string\n  default = \"eu-west-1\"\n}\n\n"})
		add(file{path: dir + "/outputs.tf", kind: kindHCL, area: area, header: "output \"env\" {\n  value = \"" + env + "\"\n}\n\n"})
		add(file{path: dir + "/versions.tf", kind: kindHCL, area: area, header: "terraform {\n  required_version = \">= 1.5\"\n}\n\n"})
		add(file{path: dir + "/terraform.tfvars", kind: kindHCL, area: area, header: "region = \"eu-west-1\"\n\n"})
		for j := 0; j < 14; j++ {
			w := words[(i*7+j)%len(words)]
			add(file{path: fmt.Sprintf("%s/svc-%s-%d.tf", dir, w, j), kind: kindHCL, area: area,
				header: fmt.Sprintf("resource \"terraform_data\" \"%s_%d\" {\n  input = %q\n}\n\n", w, j, env)})
		}
	}

	for i := 0; i < docs; i++ {
		a := docAreas[i%len(docAreas)]
		add(file{path: fmt.Sprintf("docs/%s/%04d-%s-%s.md", a, i, words[i%len(words)], verbs[i%len(verbs)]), kind: kindMarkdown, area: "docs",
			header: fmt.Sprintf("# %s %s\n\n", words[i%len(words)], verbs[i%len(verbs)])})
	}

	// Apps take the rest: Go services with nested packages.
	rest := max(files-len(fs), 0)
	napps := clamp(rest/100, 2, len(appNames))
	for i := 0; i < rest; i++ {
		app := appNames[i%napps]
		n := i / napps
		area := "app:" + app
		switch n {
		case 0:
			add(file{path: "apps/" + app + "/go.mod", kind: kindStatic, area: area, header: "module example.com/" + app + "\n\ngo 1.22\n"})
		case 1:
			add(file{path: "apps/" + app + "/main.go", kind: kindGo, area: area, header: "package main\n\nfunc main() {}\n\n"})
		case 2:
			add(file{path: "apps/" + app + "/deploy.yaml", kind: kindYAML, area: area, header: "name: " + app + "\nreplicas: 3\n"})
		default:
			pkg := words[(n*7+i)%len(words)]
			add(file{path: fmt.Sprintf("apps/%s/internal/%s/%s_%d.go", app, pkg, words[n%len(words)], n), kind: kindGo, area: area,
				header: "package " + pkg + "\n\n"})
		}
	}

	sort.Slice(fs, func(i, j int) bool { return fs[i].path < fs[j].path })
	l.files = fs
	for i, f := range fs {
		l.byArea[f.area] = append(l.byArea[f.area], i)
	}
	for a := range l.byArea {
		l.areas = append(l.areas, a)
	}
	sort.Strings(l.areas)
	return l
}

// pick returns n distinct names of list in a random order (all of them when n is larger).
func pick(r *rand.Rand, list []string, n int) []string {
	idx := r.Perm(len(list))
	out := make([]string, 0, min(n, len(list)))
	for _, i := range idx[:min(n, len(list))] {
		out = append(out, list[i])
	}
	return out
}

// runnerYAML is the configuration at the root: every environment deploys from main in its order.
func runnerYAML(envs []string) string {
	var b strings.Builder
	b.WriteString("# How the runner deploys this repository.\nenvironments:\n")
	for i, env := range envs {
		fmt.Fprintf(&b, "  - name: %s\n    dir: environments/%s\n    order: %d\n    branch: main\n    api_url: https://api.%s.example.com\n", env, env, i+1, env)
		if strings.HasPrefix(env, "prod") {
			b.WriteString("    require_approval: true\n    slack_channel: \"#deploys-prod\"\n")
		}
	}
	b.WriteString("apps: []\nnotify:\n  slack:\n    channel: \"#deploys\"\n")
	return b.String()
}

// changeable reports whether churn may rewrite the file (static files keep their first text).
func (f file) changeable() bool { return f.kind != kindStatic }

// topic is a short name for the area, for commit messages ("dev", "network", "api", "docs").
func topic(area string) string {
	if i := strings.IndexByte(area, ':'); i >= 0 {
		return area[i+1:]
	}
	return area
}
