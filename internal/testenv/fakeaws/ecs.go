package fakeaws

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// CircuitBreakerReason is the rolloutStateReason ECS gives a deployment its circuit breaker failed.
const CircuitBreakerReason = "ECS deployment circuit breaker: tasks failed to start."

const ecsTargetPrefix = "AmazonEC2ContainerServiceV20141113."

// Service is an ECS service as a test sets it up; it starts with one COMPLETED PRIMARY deployment.
type Service struct {
	Cluster        string
	Name           string
	TaskDefinition string
	DesiredCount   int
}

// DeploymentOutcome is how a scripted ECS deployment goes.
type DeploymentOutcome int

const (
	// Stabilize brings the new deployment to running == desired and drops the old one after the scripted number
	// of describes (rolloutState still IN_PROGRESS), then marks it COMPLETED on the next describe.
	Stabilize DeploymentOutcome = iota
	// CircuitBreaker fails tasks of the new deployment until, at the scripted describe, the deployment is FAILED
	// with CircuitBreakerReason and the previous deployment is PRIMARY again; on the next describe the failed
	// deployment is gone and the service is stable on the old task definition.
	CircuitBreaker
	// Stuck keeps the new deployment half started, IN_PROGRESS, forever.
	Stuck
)

// Deployment is a snapshot of one deployment of a fake service.
type Deployment struct {
	ID                 string
	Status             string // PRIMARY or ACTIVE
	TaskDefinition     string
	DesiredCount       int
	RunningCount       int
	PendingCount       int
	FailedTasks        int
	RolloutState       string // IN_PROGRESS, COMPLETED or FAILED
	RolloutStateReason string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

type ecsService struct {
	Service
	deployments []*Deployment // PRIMARY first

	// the running script, if any
	outcome  DeploymentOutcome
	steps    int
	step     int
	scripted bool
}

// ECS is a fake of the ECS API (JSON 1.1) covering DescribeServices, with deployments that progress one step
// on each DescribeServices that returns their service, and one-off tasks (see ecs_tasks.go).
type ECS struct {
	recorder

	mu       sync.Mutex
	services map[string]*ecsService // by cluster/name
	clusters map[string]bool
	nextID   int
	now      func() time.Time

	taskDefs    []*taskDef
	tasks       []*ecsTask
	taskOutcome *TaskOutcome
	server      *httptest.Server
}

// NewECS returns a fake that is not listening; mount it with ServeHTTP or use StartECS.
func NewECS() *ECS {
	return &ECS{
		services: map[string]*ecsService{},
		clusters: map[string]bool{},
		now:      func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	}
}

// StartECS returns a fake listening on 127.0.0.1; Close stops it.
func StartECS() *ECS {
	f := NewECS()
	f.server = httptest.NewServer(f)
	return f
}

// URL is the endpoint of a started fake.
func (f *ECS) URL() string { return f.server.URL }

// Close stops a started fake.
func (f *ECS) Close() { f.server.Close() }

// Client returns a real ECS client pointed at a started fake.
func (f *ECS) Client() *ecs.Client { return ECSClient(f.URL()) }

// AddService adds a service whose only deployment is PRIMARY, COMPLETED and fully running.
func (f *ECS) AddService(s Service) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clusters[s.Cluster] = true
	now := f.now()
	f.services[s.Cluster+"/"+s.Name] = &ecsService{Service: s, deployments: []*Deployment{{
		ID: f.deploymentID(), Status: "PRIMARY", TaskDefinition: s.TaskDefinition,
		DesiredCount: s.DesiredCount, RunningCount: s.DesiredCount, RolloutState: "COMPLETED",
		RolloutStateReason: "ECS deployment completed.", CreatedAt: now, UpdatedAt: now,
	}}}
}

// Deploy starts a new PRIMARY deployment of taskDefinition that goes as outcome says after steps describes,
// and returns its ID. The previous PRIMARY becomes ACTIVE.
func (f *ECS) Deploy(cluster, service, taskDefinition string, outcome DeploymentOutcome, steps int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[cluster+"/"+service]
	if !ok {
		panic(fmt.Sprintf("fakeaws: Deploy to unknown service %s/%s", cluster, service))
	}
	// ECS keeps one old deployment around while the new one rolls out; older ones are long gone.
	old := s.deployments[0]
	old.Status, old.UpdatedAt = "ACTIVE", f.now()
	d := &Deployment{ID: f.deploymentID(), Status: "PRIMARY", TaskDefinition: taskDefinition,
		DesiredCount: s.DesiredCount, PendingCount: s.DesiredCount, RolloutState: "IN_PROGRESS",
		RolloutStateReason: "ECS deployment in progress.", CreatedAt: f.now(), UpdatedAt: f.now()}
	s.deployments = []*Deployment{d, old}
	s.TaskDefinition = taskDefinition
	s.outcome, s.steps, s.step, s.scripted = outcome, max(steps, 1), 0, true
	return d.ID
}

// Deployments returns the deployments of a service, PRIMARY first.
func (f *ECS) Deployments(cluster, service string) []Deployment {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[cluster+"/"+service]
	if !ok {
		return nil
	}
	var out []Deployment
	for _, d := range s.deployments {
		out = append(out, *d)
	}
	return out
}

func (f *ECS) deploymentID() string {
	f.nextID++
	return fmt.Sprintf("ecs-svc/%019d", 1234567890123456789-f.nextID)
}

// advance moves a service's scripted deployment one step.
func (f *ECS) advance(s *ecsService) {
	if !s.scripted || len(s.deployments) == 0 {
		return
	}
	s.step++
	now := f.now()
	d := s.deployments[0]
	var old *Deployment
	if len(s.deployments) > 1 {
		old = s.deployments[1]
	}
	switch s.outcome {
	case Stabilize:
		switch {
		case s.step < s.steps:
			d.RunningCount = s.DesiredCount * s.step / s.steps
			d.PendingCount = s.DesiredCount - d.RunningCount
			if old != nil {
				old.RunningCount, old.DesiredCount = s.DesiredCount-d.RunningCount, s.DesiredCount-d.RunningCount
			}
		case s.step == s.steps:
			d.RunningCount, d.PendingCount = s.DesiredCount, 0
			s.deployments = s.deployments[:1]
		default:
			d.RolloutState, d.RolloutStateReason = "COMPLETED", "ECS deployment "+d.ID+" completed."
			s.scripted = false
		}
	case CircuitBreaker:
		switch {
		case s.step < s.steps:
			d.FailedTasks++
			d.PendingCount = s.DesiredCount
		case s.step == s.steps:
			d.FailedTasks = max(d.FailedTasks+1, 3)
			d.Status, d.PendingCount, d.DesiredCount = "ACTIVE", 0, 0
			d.RolloutState, d.RolloutStateReason = "FAILED", CircuitBreakerReason
			if old != nil {
				old.Status, old.RolloutState = "PRIMARY", "IN_PROGRESS"
				old.RolloutStateReason = "ECS deployment circuit breaker: rolling back to deploymentId " + old.ID + "."
				old.DesiredCount, old.RunningCount = s.DesiredCount, s.DesiredCount
				s.deployments = []*Deployment{old, d}
				s.TaskDefinition = old.TaskDefinition
			}
		default:
			s.deployments = s.deployments[:1]
			p := s.deployments[0]
			p.RolloutState, p.RolloutStateReason = "COMPLETED", "ECS deployment "+p.ID+" completed."
			s.scripted = false
		}
	case Stuck:
		d.RunningCount = s.DesiredCount / 2
		d.PendingCount = s.DesiredCount - d.RunningCount
	}
	d.UpdatedAt = now
}

// ServeHTTP answers JSON 1.1 requests.
func (f *ECS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	action, ok := strings.CutPrefix(target, ecsTargetPrefix)
	f.record(Call{Action: action, Body: string(body)})
	if r.Method != http.MethodPost || !ok {
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "")
		return
	}
	switch action {
	case "DescribeServices":
		f.describeServices(w, body)
	default:
		if !f.serveTasks(w, action, body) {
			writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "")
		}
	}
}

func (f *ECS) describeServices(w http.ResponseWriter, body []byte) {
	var in struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	cluster := lastSegment(in.Cluster)
	if cluster == "" {
		cluster = "default"
	}
	if len(in.Services) == 0 || len(in.Services) > 10 {
		writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", "Services must contain between 1 and 10 items.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.clusters[cluster] {
		writeJSONError(w, http.StatusBadRequest, "ClusterNotFoundException", "Cluster not found.")
		return
	}
	out := describeServicesOutput{Services: []serviceJSON{}, Failures: []failureJSON{}}
	for _, name := range in.Services {
		name = lastSegment(name)
		s, ok := f.services[cluster+"/"+name]
		if !ok {
			out.Failures = append(out.Failures, failureJSON{Arn: serviceARN(cluster, name), Reason: "MISSING"})
			continue
		}
		f.advance(s)
		out.Services = append(out.Services, renderService(s))
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", requestID())
	_ = json.NewEncoder(w).Encode(out)
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("x-amzn-RequestId", requestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}
