package fakeaws

import (
	"fmt"
	"strconv"
	"time"
)

// The ECS wire shapes (JSON 1.1); timestamps are epoch seconds as JSON numbers.

type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)), nil
}

type describeServicesOutput struct {
	Services []serviceJSON `json:"services"`
	Failures []failureJSON `json:"failures"`
}

type failureJSON struct {
	Arn    string `json:"arn"`
	Reason string `json:"reason"`
}

type deploymentJSON struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	TaskDefinition     string `json:"taskDefinition"`
	DesiredCount       int    `json:"desiredCount"`
	PendingCount       int    `json:"pendingCount"`
	RunningCount       int    `json:"runningCount"`
	FailedTasks        int    `json:"failedTasks"`
	CreatedAt          epoch  `json:"createdAt"`
	UpdatedAt          epoch  `json:"updatedAt"`
	LaunchType         string `json:"launchType"`
	RolloutState       string `json:"rolloutState"`
	RolloutStateReason string `json:"rolloutStateReason,omitempty"`
}

type circuitBreakerJSON struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

type deploymentConfigurationJSON struct {
	DeploymentCircuitBreaker circuitBreakerJSON `json:"deploymentCircuitBreaker"`
	MaximumPercent           int                `json:"maximumPercent"`
	MinimumHealthyPercent    int                `json:"minimumHealthyPercent"`
}

type serviceJSON struct {
	ServiceArn              string                      `json:"serviceArn"`
	ServiceName             string                      `json:"serviceName"`
	ClusterArn              string                      `json:"clusterArn"`
	Status                  string                      `json:"status"`
	DesiredCount            int                         `json:"desiredCount"`
	RunningCount            int                         `json:"runningCount"`
	PendingCount            int                         `json:"pendingCount"`
	LaunchType              string                      `json:"launchType"`
	TaskDefinition          string                      `json:"taskDefinition"`
	DeploymentConfiguration deploymentConfigurationJSON `json:"deploymentConfiguration"`
	Deployments             []deploymentJSON            `json:"deployments"`
	Events                  []struct{}                  `json:"events"`
	CreatedAt               epoch                       `json:"createdAt"`
}

func serviceARN(cluster, name string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", Region, AccountID, cluster, name)
}

func renderService(s *ecsService) serviceJSON {
	out := serviceJSON{
		ServiceArn:     serviceARN(s.Cluster, s.Name),
		ServiceName:    s.Name,
		ClusterArn:     fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", Region, AccountID, s.Cluster),
		Status:         "ACTIVE",
		DesiredCount:   s.DesiredCount,
		LaunchType:     "FARGATE",
		TaskDefinition: s.TaskDefinition,
		DeploymentConfiguration: deploymentConfigurationJSON{
			DeploymentCircuitBreaker: circuitBreakerJSON{Enable: true, Rollback: true},
			MaximumPercent:           200,
			MinimumHealthyPercent:    100,
		},
		Events: []struct{}{},
	}
	for _, d := range s.deployments {
		out.RunningCount += d.RunningCount
		out.PendingCount += d.PendingCount
		out.Deployments = append(out.Deployments, deploymentJSON{
			ID: d.ID, Status: d.Status, TaskDefinition: d.TaskDefinition, DesiredCount: d.DesiredCount,
			PendingCount: d.PendingCount, RunningCount: d.RunningCount, FailedTasks: d.FailedTasks,
			CreatedAt: epoch(d.CreatedAt), UpdatedAt: epoch(d.UpdatedAt), LaunchType: "FARGATE",
			RolloutState: d.RolloutState, RolloutStateReason: d.RolloutStateReason,
		})
		if out.CreatedAt == (epoch{}) || time.Time(out.CreatedAt).After(d.CreatedAt) {
			out.CreatedAt = epoch(d.CreatedAt)
		}
	}
	return out
}
