package fakeaws

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// Group is an Auto Scaling group as a test sets it up.
type Group struct {
	Name               string
	LaunchTemplateName string
	// LaunchTemplateID defaults to an ID derived from the name.
	LaunchTemplateID string
	// LaunchTemplateVersion is what the group references: "3", "$Latest" or "$Default".
	LaunchTemplateVersion string
	// Instances is the number of InService instances (and the desired capacity).
	Instances int
}

// Outcome is how a scripted instance refresh ends.
type Outcome int

const (
	// Succeed ends the refresh Successful and moves the group to the desired configuration.
	Succeed Outcome = iota
	// Fail ends the refresh Failed with the scripted reason.
	Fail
	// RollBack goes RollbackInProgress then RollbackSuccessful with the scripted reason when the refresh
	// was started with AutoRollback; without it the refresh ends Failed, as AWS does.
	RollBack
	// RollbackFail is RollBack ending RollbackFailed.
	RollbackFail
	// Hang keeps the refresh InProgress until it is cancelled.
	Hang
)

// Refresh is a snapshot of one instance refresh the fake holds.
type Refresh struct {
	ID                 string
	Group              string
	Status             types.InstanceRefreshStatus
	StatusReason       string
	PercentageComplete int
	InstancesToUpdate  int
	// Preferences and DesiredConfiguration are what StartInstanceRefresh was sent.
	Preferences          types.RefreshPreferences
	DesiredConfiguration *types.LaunchTemplateSpecification
}

type script struct {
	outcome Outcome
	steps   int
	reason  string
}

// defaultScript is what a refresh does when the test scripted nothing: three InProgress steps, then success.
var defaultScript = script{outcome: Succeed, steps: 3}

type refresh struct {
	Refresh
	script  script
	step    int
	total   int
	started time.Time
	ended   time.Time
}

// AutoScaling is a fake of the Auto Scaling API (AWS Query protocol, version 2011-01-01) covering instance
// refreshes and group descriptions. A refresh moves one step on each DescribeInstanceRefreshes that returns it
// (or on Advance when AdvanceOnDescribe(false) was set): Pending, InProgress with PercentageComplete and
// InstancesToUpdate moving, then the scripted outcome.
type AutoScaling struct {
	recorder

	mu        sync.Mutex
	groups    map[string]*Group
	refreshes map[string][]*refresh // per group, oldest first
	scripts   []script
	manual    bool
	nextID    int
	now       func() time.Time
	server    *httptest.Server
}

// NewAutoScaling returns a fake that is not listening; mount it with ServeHTTP or use StartAutoScaling.
func NewAutoScaling() *AutoScaling {
	return &AutoScaling{
		groups:    map[string]*Group{},
		refreshes: map[string][]*refresh{},
		now:       func() time.Time { return time.Now().UTC().Truncate(time.Second) },
	}
}

// StartAutoScaling returns a fake listening on 127.0.0.1; Close stops it.
func StartAutoScaling() *AutoScaling {
	f := NewAutoScaling()
	f.server = httptest.NewServer(f)
	return f
}

// URL is the endpoint of a started fake.
func (f *AutoScaling) URL() string { return f.server.URL }

// Close stops a started fake.
func (f *AutoScaling) Close() { f.server.Close() }

// Client returns a real Auto Scaling client pointed at a started fake.
func (f *AutoScaling) Client() *autoscaling.Client { return AutoScalingClient(f.URL()) }

// AddGroup adds or replaces a group.
func (f *AutoScaling) AddGroup(g Group) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g.LaunchTemplateID == "" {
		g.LaunchTemplateID = fmt.Sprintf("lt-%017x", len(g.LaunchTemplateName)*7919+len(f.groups))
	}
	f.groups[g.Name] = &g
}

// Group returns the current state of a group (a successful refresh with a desired configuration moves it).
func (f *AutoScaling) Group(name string) (Group, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[name]
	if !ok {
		return Group{}, false
	}
	return *g, true
}

// ScriptNextRefresh sets how the next started refresh goes: steps InProgress steps, then outcome, with
// reason as AWS's StatusReason. Scripts queue up in order.
func (f *AutoScaling) ScriptNextRefresh(outcome Outcome, steps int, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts = append(f.scripts, script{outcome: outcome, steps: steps, reason: reason})
}

// AdvanceOnDescribe chooses whether describing a refresh moves it (the default) or only Advance does.
func (f *AutoScaling) AdvanceOnDescribe(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manual = !on
}

// Advance moves every unfinished refresh one step.
func (f *AutoScaling) Advance() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rs := range f.refreshes {
		for _, r := range rs {
			f.advance(r)
		}
	}
}

// Refreshes returns the refreshes of a group, oldest first.
func (f *AutoScaling) Refreshes(asg string) []Refresh {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Refresh
	for _, r := range f.refreshes[asg] {
		out = append(out, r.Refresh)
	}
	return out
}

// ServeHTTP answers AWS Query requests.
func (f *AutoScaling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeQueryError(w, http.StatusMethodNotAllowed, "InvalidAction", "Auto Scaling accepts POST only")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeQueryError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	form := r.PostForm
	action := form.Get("Action")
	f.record(Call{Action: action, Params: form})
	if v := form.Get("Version"); v != apiVersion {
		writeQueryError(w, http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", action, v))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var (
		result any
		err    *queryError
	)
	switch action {
	case "StartInstanceRefresh":
		result, err = f.startInstanceRefresh(form)
	case "DescribeInstanceRefreshes":
		result, err = f.describeInstanceRefreshes(form)
	case "CancelInstanceRefresh":
		result, err = f.cancelInstanceRefresh(form)
	case "DescribeAutoScalingGroups":
		result, err = f.describeAutoScalingGroups(form)
	default:
		err = &queryError{status: http.StatusBadRequest, code: "InvalidAction",
			message: fmt.Sprintf("Could not find operation %s for version %s", action, apiVersion)}
	}
	if err != nil {
		writeQueryError(w, err.status, err.code, err.message)
		return
	}
	writeQueryResult(w, action, result)
}

func (f *AutoScaling) startInstanceRefresh(form map[string][]string) (any, *queryError) {
	name := first(form, "AutoScalingGroupName")
	g, ok := f.groups[name]
	if !ok {
		return nil, validationError("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	for _, r := range f.refreshes[name] {
		if !terminal(r.Status) {
			return nil, &queryError{status: http.StatusBadRequest, code: "InstanceRefreshInProgress",
				message: "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh."}
		}
	}
	prefs, qerr := parsePreferences(form)
	if qerr != nil {
		return nil, qerr
	}
	desired := parseDesired(form)
	if aws.ToBool(prefs.AutoRollback) {
		switch {
		case desired == nil:
			return nil, validationError("AutoRollback requires a desired configuration to be specified")
		case !explicitVersion(aws.ToString(desired.Version)):
			return nil, validationError("AutoRollback is not supported with launch template version %q; specify an explicit version", aws.ToString(desired.Version))
		case !explicitVersion(g.LaunchTemplateVersion):
			return nil, validationError("AutoRollback is not supported while the group uses launch template version %s", g.LaunchTemplateVersion)
		}
	}
	sc := defaultScript
	if len(f.scripts) > 0 {
		sc, f.scripts = f.scripts[0], f.scripts[1:]
	}
	f.nextID++
	r := &refresh{
		Refresh: Refresh{
			ID:                   fmt.Sprintf("%08x-1b2c-4d3e-8f40-%012x", f.nextID, f.nextID),
			Group:                name,
			Status:               types.InstanceRefreshStatusPending,
			InstancesToUpdate:    g.Instances,
			Preferences:          prefs,
			DesiredConfiguration: desired,
		},
		script:  sc,
		total:   g.Instances,
		started: f.now(),
	}
	f.refreshes[name] = append(f.refreshes[name], r)
	return startResult{InstanceRefreshID: r.ID}, nil
}

func (f *AutoScaling) describeInstanceRefreshes(form map[string][]string) (any, *queryError) {
	name := first(form, "AutoScalingGroupName")
	ids := members(form, "InstanceRefreshIds")
	var out describeRefreshesResult
	rs := f.refreshes[name]
	for i := len(rs) - 1; i >= 0; i-- { // AWS lists the newest first
		r := rs[i]
		if len(ids) > 0 && !slices.Contains(ids, r.ID) {
			continue
		}
		out.InstanceRefreshes = append(out.InstanceRefreshes, r.xml())
		if !f.manual {
			f.advance(r)
		}
	}
	return out, nil
}

func (f *AutoScaling) cancelInstanceRefresh(form map[string][]string) (any, *queryError) {
	name := first(form, "AutoScalingGroupName")
	if _, ok := f.groups[name]; !ok {
		return nil, validationError("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	for _, r := range f.refreshes[name] {
		switch r.Status {
		case types.InstanceRefreshStatusPending, types.InstanceRefreshStatusInProgress, types.InstanceRefreshStatusBaking:
			r.Status = types.InstanceRefreshStatusCancelling
			return cancelResult{InstanceRefreshID: r.ID}, nil
		case types.InstanceRefreshStatusCancelling:
			return cancelResult{InstanceRefreshID: r.ID}, nil
		}
	}
	return nil, &queryError{status: http.StatusBadRequest, code: "ActiveInstanceRefreshNotFound",
		message: fmt.Sprintf("No in progress or pending Instance Refresh found for Auto Scaling group %s", name)}
}

func (f *AutoScaling) describeAutoScalingGroups(form map[string][]string) (any, *queryError) {
	names := members(form, "AutoScalingGroupNames")
	var all []string
	for n := range f.groups {
		if len(names) == 0 || slices.Contains(names, n) {
			all = append(all, n)
		}
	}
	slices.Sort(all)
	var out describeGroupsResult
	for _, n := range all {
		out.AutoScalingGroups = append(out.AutoScalingGroups, renderGroup(f.groups[n], f.now()))
	}
	return out, nil
}

// advance moves a refresh one step along its script.
func (f *AutoScaling) advance(r *refresh) {
	if terminal(r.Status) {
		return
	}
	end := func(s types.InstanceRefreshStatus, reason string) {
		r.Status, r.StatusReason, r.ended = s, reason, f.now()
	}
	switch r.Status {
	case types.InstanceRefreshStatusCancelling:
		end(types.InstanceRefreshStatusCancelled, "Instance refresh was cancelled by a user request.")
		return
	case types.InstanceRefreshStatusRollbackInProgress:
		if r.script.outcome == RollbackFail {
			end(types.InstanceRefreshStatusRollbackFailed, r.script.reason)
		} else {
			end(types.InstanceRefreshStatusRollbackSuccessful, r.script.reason)
			r.PercentageComplete, r.InstancesToUpdate = 100, 0
		}
		return
	}
	r.step++
	if r.script.outcome == Hang || r.step <= r.script.steps {
		steps := max(r.script.steps, 1)
		pct := min((r.step-1)*100/steps, 99)
		if r.script.outcome == Hang {
			pct = min(pct, 50)
		}
		r.Status = types.InstanceRefreshStatusInProgress
		r.PercentageComplete = pct
		r.InstancesToUpdate = r.total - r.total*pct/100
		return
	}
	switch r.script.outcome {
	case Succeed:
		end(types.InstanceRefreshStatusSuccessful, "")
		r.PercentageComplete, r.InstancesToUpdate = 100, 0
		if d := r.DesiredConfiguration; d != nil {
			g := f.groups[r.Group]
			g.LaunchTemplateVersion = aws.ToString(d.Version)
		}
	case Fail:
		end(types.InstanceRefreshStatusFailed, r.script.reason)
	case RollBack, RollbackFail:
		if aws.ToBool(r.Preferences.AutoRollback) {
			r.Status, r.StatusReason = types.InstanceRefreshStatusRollbackInProgress, r.script.reason
		} else {
			end(types.InstanceRefreshStatusFailed, r.script.reason)
		}
	}
}

func terminal(s types.InstanceRefreshStatus) bool {
	switch s {
	case types.InstanceRefreshStatusSuccessful, types.InstanceRefreshStatusFailed, types.InstanceRefreshStatusCancelled,
		types.InstanceRefreshStatusRollbackSuccessful, types.InstanceRefreshStatusRollbackFailed:
		return true
	}
	return false
}

func explicitVersion(v string) bool {
	_, err := strconv.Atoi(v)
	return err == nil
}

func parsePreferences(form map[string][]string) (types.RefreshPreferences, *queryError) {
	var p types.RefreshPreferences
	intPref := func(name string, lo, hi int) (*int32, *queryError) {
		s := first(form, "Preferences."+name)
		if s == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return nil, validationError("Value '%s' at 'preferences.%s' failed to satisfy constraint: Member must be between %d and %d", s, name, lo, hi)
		}
		return aws.Int32(int32(n)), nil
	}
	boolPref := func(name string) *bool {
		switch first(form, "Preferences."+name) {
		case "true":
			return aws.Bool(true)
		case "false":
			return aws.Bool(false)
		}
		return nil
	}
	var err *queryError
	if p.MinHealthyPercentage, err = intPref("MinHealthyPercentage", 0, 100); err != nil {
		return p, err
	}
	if p.InstanceWarmup, err = intPref("InstanceWarmup", 0, 1<<30); err != nil {
		return p, err
	}
	p.SkipMatching = boolPref("SkipMatching")
	p.AutoRollback = boolPref("AutoRollback")
	return p, nil
}

func parseDesired(form map[string][]string) *types.LaunchTemplateSpecification {
	const pre = "DesiredConfiguration.LaunchTemplate."
	name, id, v := first(form, pre+"LaunchTemplateName"), first(form, pre+"LaunchTemplateId"), first(form, pre+"Version")
	if name == "" && id == "" && v == "" {
		return nil
	}
	spec := &types.LaunchTemplateSpecification{}
	if name != "" {
		spec.LaunchTemplateName = aws.String(name)
	}
	if id != "" {
		spec.LaunchTemplateId = aws.String(id)
	}
	if v != "" {
		spec.Version = aws.String(v)
	}
	return spec
}

func first(form map[string][]string, key string) string {
	if v := form[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// members reads a Query list: Name.member.1, Name.member.2, ...
func members(form map[string][]string, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok || len(v) == 0 {
			return out
		}
		out = append(out, v[0])
	}
}
