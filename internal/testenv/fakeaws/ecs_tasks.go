package fakeaws

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The task side of the ECS fake: task definitions (DescribeTaskDefinition, RegisterTaskDefinition,
// DeregisterTaskDefinition) and one-off tasks (RunTask, DescribeTasks, StopTask) whose lives are scripted.

// TaskOutcome is how the tasks started after ScriptTasks go: they pass through PROVISIONING, PENDING and
// RUNNING, one status per DescribeTasks, and stop at the Steps-th describe with every container's exit
// code ExitCode (or, with StopCode TaskFailedToStart, without exit codes).
type TaskOutcome struct {
	ExitCode int
	Steps    int
	StopCode string // default EssentialContainerExited
	Reason   string // stoppedReason; default "Essential container in task exited"
}

// StartedTask is a task RunTask started, as a test checks it.
type StartedTask struct {
	Cluster        string
	TaskArn        string
	TaskDefinition string // family:revision
	Images         map[string]string
	Command        map[string][]string // overridden commands by container
	Subnets        []string
	SecurityGroups []string
	PublicIP       string
	StartedBy      string
	Status         string // last status
	Stopped        bool   // StopTask was called
}

type ecsTask struct {
	StartedTask
	outcome   TaskOutcome
	describes int
	exitCodes map[string]int
}

type taskDef struct {
	body     map[string]any // the registered definition, as the wire shows it
	family   string
	revision int
	active   bool
}

func (t *taskDef) arn() string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", Region, AccountID, t.family, t.revision)
}

// AddTaskDefinition registers a task definition given as RegisterTaskDefinition's JSON input and returns
// its ARN.
func (f *ECS) AddTaskDefinition(input string) string {
	var in map[string]any
	if err := json.Unmarshal([]byte(input), &in); err != nil {
		panic(fmt.Sprintf("fakeaws: AddTaskDefinition: %v", err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.register(in).arn()
}

// AddCluster makes a cluster known (RunTask needs one).
func (f *ECS) AddCluster(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clusters[name] = true
}

// ScriptTasks sets how the tasks started from now on go.
func (f *ECS) ScriptTasks(o TaskOutcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.taskOutcome = &o
}

// TasksStarted returns the tasks RunTask started, in order.
func (f *ECS) TasksStarted() []StartedTask {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []StartedTask
	for _, t := range f.tasks {
		out = append(out, t.StartedTask)
	}
	return out
}

// ActiveTaskDefinitions lists the ARNs of the task definitions not deregistered.
func (f *ECS) ActiveTaskDefinitions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, t := range f.taskDefs {
		if t.active {
			out = append(out, t.arn())
		}
	}
	return out
}

func (f *ECS) register(in map[string]any) *taskDef {
	family, _ := in["family"].(string)
	rev := 1
	for _, t := range f.taskDefs {
		if t.family == family && t.revision >= rev {
			rev = t.revision + 1
		}
	}
	t := &taskDef{body: in, family: family, revision: rev, active: true}
	body := map[string]any{}
	for k, v := range in {
		if k != "tags" {
			body[k] = v
		}
	}
	body["taskDefinitionArn"], body["revision"], body["status"] = t.arn(), rev, "ACTIVE"
	t.body = body
	f.taskDefs = append(f.taskDefs, t)
	return t
}

// lookup finds a task definition by family (the latest active revision), family:revision or ARN.
func (f *ECS) lookup(ref string) *taskDef {
	name := ref
	if i := strings.Index(ref, "task-definition/"); i >= 0 {
		name = ref[i+len("task-definition/"):]
	}
	family, revText, hasRev := strings.Cut(name, ":")
	var found *taskDef
	for _, t := range f.taskDefs {
		if t.family != family {
			continue
		}
		if hasRev {
			if strconv.Itoa(t.revision) == revText {
				return t
			}
			continue
		}
		if t.active && (found == nil || t.revision > found.revision) {
			found = t
		}
	}
	return found
}

func (f *ECS) serveTasks(w http.ResponseWriter, action string, body []byte) bool {
	switch action {
	case "DescribeTaskDefinition":
		var in struct {
			TaskDefinition string `json:"taskDefinition"`
		}
		if !decode(w, body, &in) {
			return true
		}
		f.mu.Lock()
		t := f.lookup(in.TaskDefinition)
		var out map[string]any
		if t != nil {
			out = map[string]any{"taskDefinition": t.body}
		}
		f.mu.Unlock()
		if t == nil {
			writeJSONError(w, http.StatusBadRequest, "ClientException", "Unable to describe task definition.")
			return true
		}
		writeJSON(w, out)
	case "RegisterTaskDefinition":
		var in map[string]any
		if !decode(w, body, &in) {
			return true
		}
		if fam, _ := in["family"].(string); fam == "" {
			writeJSONError(w, http.StatusBadRequest, "ClientException", "Family is required.")
			return true
		}
		f.mu.Lock()
		t := f.register(in)
		out := map[string]any{"taskDefinition": t.body}
		f.mu.Unlock()
		writeJSON(w, out)
	case "DeregisterTaskDefinition":
		var in struct {
			TaskDefinition string `json:"taskDefinition"`
		}
		if !decode(w, body, &in) {
			return true
		}
		f.mu.Lock()
		t := f.lookup(in.TaskDefinition)
		if t != nil {
			t.active = false
			t.body["status"] = "INACTIVE"
		}
		f.mu.Unlock()
		if t == nil {
			writeJSONError(w, http.StatusBadRequest, "ClientException", "The specified task definition does not exist.")
			return true
		}
		writeJSON(w, map[string]any{"taskDefinition": t.body})
	case "RunTask":
		f.runTask(w, body)
	case "DescribeTasks":
		f.describeTasks(w, body)
	case "StopTask":
		var in struct {
			Cluster string `json:"cluster"`
			Task    string `json:"task"`
			Reason  string `json:"reason"`
		}
		if !decode(w, body, &in) {
			return true
		}
		f.mu.Lock()
		var out map[string]any
		for _, t := range f.tasks {
			if t.TaskArn == in.Task {
				t.Stopped = true
				t.outcome = TaskOutcome{ExitCode: 143, Steps: t.describes + 1, StopCode: "UserInitiated", Reason: in.Reason}
				out = map[string]any{"task": f.renderTask(t)}
			}
		}
		f.mu.Unlock()
		if out == nil {
			writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", "The referenced task was not found.")
			return true
		}
		writeJSON(w, out)
	default:
		return false
	}
	return true
}

func (f *ECS) runTask(w http.ResponseWriter, body []byte) {
	var in struct {
		Cluster              string `json:"cluster"`
		TaskDefinition       string `json:"taskDefinition"`
		LaunchType           string `json:"launchType"`
		Count                int    `json:"count"`
		StartedBy            string `json:"startedBy"`
		NetworkConfiguration struct {
			AwsvpcConfiguration struct {
				Subnets        []string `json:"subnets"`
				SecurityGroups []string `json:"securityGroups"`
				AssignPublicIP string   `json:"assignPublicIp"`
			} `json:"awsvpcConfiguration"`
		} `json:"networkConfiguration"`
		Overrides struct {
			ContainerOverrides []struct {
				Name    string   `json:"name"`
				Command []string `json:"command"`
			} `json:"containerOverrides"`
		} `json:"overrides"`
	}
	if !decode(w, body, &in) {
		return
	}
	cluster := lastSegment(in.Cluster)
	if cluster == "" {
		cluster = "default"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.clusters[cluster] {
		writeJSONError(w, http.StatusBadRequest, "ClusterNotFoundException", "Cluster not found.")
		return
	}
	td := f.lookup(in.TaskDefinition)
	if td == nil || !td.active {
		writeJSONError(w, http.StatusBadRequest, "ClientException", "TaskDefinition not found.")
		return
	}
	vpc := in.NetworkConfiguration.AwsvpcConfiguration
	if td.body["networkMode"] == "awsvpc" && len(vpc.Subnets) == 0 {
		writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
		return
	}
	t := &ecsTask{StartedTask: StartedTask{
		Cluster: cluster, TaskDefinition: fmt.Sprintf("%s:%d", td.family, td.revision),
		Images: map[string]string{}, Command: map[string][]string{},
		Subnets: vpc.Subnets, SecurityGroups: vpc.SecurityGroups, PublicIP: vpc.AssignPublicIP, StartedBy: in.StartedBy,
		Status: "PROVISIONING",
	}, outcome: TaskOutcome{Steps: 3}}
	if f.taskOutcome != nil {
		t.outcome = *f.taskOutcome
	}
	defs, _ := td.body["containerDefinitions"].([]any)
	for _, d := range defs {
		c, _ := d.(map[string]any)
		name, _ := c["name"].(string)
		image, _ := c["image"].(string)
		t.Images[name] = image
	}
	for _, o := range in.Overrides.ContainerOverrides {
		if _, ok := t.Images[o.Name]; !ok {
			writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", "Override for container named "+o.Name+" is not a container in the TaskDefinition.")
			return
		}
		if len(o.Command) > 0 {
			t.Command[o.Name] = o.Command
		}
	}
	f.nextID++
	t.TaskArn = fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%032x", Region, AccountID, cluster, f.nextID)
	f.tasks = append(f.tasks, t)
	writeJSON(w, map[string]any{"tasks": []any{f.renderTask(t)}, "failures": []any{}})
}

func (f *ECS) describeTasks(w http.ResponseWriter, body []byte) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if !decode(w, body, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]any{}
	tasks, failures := []any{}, []any{}
	for _, arn := range in.Tasks {
		var found *ecsTask
		for _, t := range f.tasks {
			if t.TaskArn == arn {
				found = t
			}
		}
		if found == nil {
			failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
			continue
		}
		f.advanceTask(found)
		tasks = append(tasks, f.renderTask(found))
	}
	out["tasks"], out["failures"] = tasks, failures
	writeJSON(w, out)
}

// advanceTask moves a task one status on, stopping it at its scripted describe.
func (f *ECS) advanceTask(t *ecsTask) {
	if t.Status == "STOPPED" {
		return
	}
	t.describes++
	switch {
	case t.describes >= max(t.outcome.Steps, 1):
		t.Status = "STOPPED"
	case t.Status == "PROVISIONING":
		t.Status = "PENDING"
	case t.Status == "PENDING":
		t.Status = "RUNNING"
	}
}

func (f *ECS) renderTask(t *ecsTask) map[string]any {
	var containers []any
	for _, name := range slices.Sorted(maps.Keys(t.Images)) {
		image := t.Images[name]
		c := map[string]any{"name": name, "image": image, "lastStatus": t.Status, "taskArn": t.TaskArn}
		if t.Status == "STOPPED" && t.outcome.StopCode != "TaskFailedToStart" {
			c["exitCode"] = t.outcome.ExitCode
		}
		containers = append(containers, c)
	}
	task := map[string]any{
		"taskArn": t.TaskArn, "clusterArn": fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", Region, AccountID, t.Cluster),
		"taskDefinitionArn": fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s", Region, AccountID, t.TaskDefinition),
		"lastStatus":        t.Status, "desiredStatus": "RUNNING", "launchType": "FARGATE", "containers": containers,
		"startedBy": t.StartedBy,
	}
	if t.Status == "STOPPED" {
		task["desiredStatus"] = "STOPPED"
		task["stopCode"] = cmpOr(t.outcome.StopCode, "EssentialContainerExited")
		task["stoppedReason"] = cmpOr(t.outcome.Reason, "Essential container in task exited")
	}
	return task
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func decode(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeJSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", requestID())
	_ = json.NewEncoder(w).Encode(v)
}
