package fakeaws

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// The Auto Scaling wire shapes: every response is
// <XResponse xmlns=...><XResult>...</XResult><ResponseMetadata><RequestId/></ResponseMetadata></XResponse>.

const (
	apiVersion    = "2011-01-01"
	autoscalingNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
)

var requestSeq atomic.Int64

func requestID() string {
	n := requestSeq.Add(1)
	return fmt.Sprintf("%08x-aaaa-4bbb-8ccc-%012x", n, n)
}

type queryError struct {
	status  int
	code    string
	message string
}

func validationError(format string, args ...any) *queryError {
	return &queryError{status: http.StatusBadRequest, code: "ValidationError", message: fmt.Sprintf(format, args...)}
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

func writeQueryError(w http.ResponseWriter, status int, code, message string) {
	var e errorResponse
	e.Xmlns = autoscalingNS
	e.Error.Type = "Sender"
	if status >= 500 {
		e.Error.Type = "Receiver"
	}
	e.Error.Code, e.Error.Message = code, message
	e.RequestID = requestID()
	writeXML(w, status, e)
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type queryResponse struct {
	XMLName  xml.Name
	Xmlns    string `xml:"xmlns,attr"`
	Result   any
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

func writeQueryResult(w http.ResponseWriter, action string, result any) {
	writeXML(w, http.StatusOK, queryResponse{
		XMLName:  xml.Name{Local: action + "Response"},
		Xmlns:    autoscalingNS,
		Result:   result,
		Metadata: responseMetadata{RequestID: requestID()},
	})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

type startResult struct {
	XMLName           xml.Name `xml:"StartInstanceRefreshResult"`
	InstanceRefreshID string   `xml:"InstanceRefreshId"`
}

type cancelResult struct {
	XMLName           xml.Name `xml:"CancelInstanceRefreshResult"`
	InstanceRefreshID string   `xml:"InstanceRefreshId"`
}

type describeRefreshesResult struct {
	XMLName           xml.Name             `xml:"DescribeInstanceRefreshesResult"`
	InstanceRefreshes []instanceRefreshXML `xml:"InstanceRefreshes>member"`
}

type launchTemplateXML struct {
	LaunchTemplateID   string `xml:"LaunchTemplateId,omitempty"`
	LaunchTemplateName string `xml:"LaunchTemplateName,omitempty"`
	Version            string `xml:"Version,omitempty"`
}

type preferencesXML struct {
	MinHealthyPercentage *int32 `xml:",omitempty"`
	InstanceWarmup       *int32 `xml:",omitempty"`
	SkipMatching         *bool  `xml:",omitempty"`
	AutoRollback         *bool  `xml:",omitempty"`
}

type rollbackDetailsXML struct {
	RollbackReason    string
	RollbackStartTime string
}

type instanceRefreshXML struct {
	AutoScalingGroupName string
	InstanceRefreshID    string `xml:"InstanceRefreshId"`
	Status               string
	StatusReason         string `xml:",omitempty"`
	StartTime            string
	EndTime              string `xml:",omitempty"`
	PercentageComplete   int
	InstancesToUpdate    int
	Preferences          preferencesXML
	DesiredConfiguration *struct {
		LaunchTemplate launchTemplateXML
	} `xml:",omitempty"`
	RollbackDetails *rollbackDetailsXML `xml:",omitempty"`
	Strategy        string
}

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (r *refresh) xml() instanceRefreshXML {
	x := instanceRefreshXML{
		AutoScalingGroupName: r.Group,
		InstanceRefreshID:    r.ID,
		Status:               string(r.Status),
		StatusReason:         r.StatusReason,
		StartTime:            isoTime(r.started),
		PercentageComplete:   r.PercentageComplete,
		InstancesToUpdate:    r.InstancesToUpdate,
		Preferences: preferencesXML{
			MinHealthyPercentage: r.Preferences.MinHealthyPercentage,
			InstanceWarmup:       r.Preferences.InstanceWarmup,
			SkipMatching:         r.Preferences.SkipMatching,
			AutoRollback:         r.Preferences.AutoRollback,
		},
		Strategy: string(types.RefreshStrategyRolling),
	}
	if !r.ended.IsZero() {
		x.EndTime = isoTime(r.ended)
	}
	if d := r.DesiredConfiguration; d != nil {
		x.DesiredConfiguration = &struct{ LaunchTemplate launchTemplateXML }{launchTemplateXML{
			LaunchTemplateID:   aws.ToString(d.LaunchTemplateId),
			LaunchTemplateName: aws.ToString(d.LaunchTemplateName),
			Version:            aws.ToString(d.Version),
		}}
	}
	switch r.Status {
	case types.InstanceRefreshStatusRollbackInProgress, types.InstanceRefreshStatusRollbackSuccessful,
		types.InstanceRefreshStatusRollbackFailed:
		x.RollbackDetails = &rollbackDetailsXML{RollbackReason: r.script.reason, RollbackStartTime: isoTime(r.started)}
	}
	return x
}

type describeGroupsResult struct {
	XMLName           xml.Name   `xml:"DescribeAutoScalingGroupsResult"`
	AutoScalingGroups []groupXML `xml:"AutoScalingGroups>member"`
}

type instanceXML struct {
	InstanceID           string `xml:"InstanceId"`
	InstanceType         string
	AvailabilityZone     string
	LifecycleState       string
	HealthStatus         string
	LaunchTemplate       launchTemplateXML
	ProtectedFromScaleIn bool
}

type groupXML struct {
	AutoScalingGroupName string
	AutoScalingGroupARN  string
	LaunchTemplate       launchTemplateXML
	MinSize              int
	MaxSize              int
	DesiredCapacity      int
	DefaultCooldown      int
	AvailabilityZones    []string `xml:"AvailabilityZones>member"`
	HealthCheckType      string
	CreatedTime          string
	Instances            []instanceXML `xml:"Instances>member"`
}

func renderGroup(g *Group, now time.Time) groupXML {
	lt := launchTemplateXML{LaunchTemplateID: g.LaunchTemplateID, LaunchTemplateName: g.LaunchTemplateName, Version: g.LaunchTemplateVersion}
	x := groupXML{
		AutoScalingGroupName: g.Name,
		AutoScalingGroupARN: fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s",
			Region, AccountID, "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", g.Name),
		LaunchTemplate:    lt,
		MinSize:           g.Instances,
		MaxSize:           g.Instances * 2,
		DesiredCapacity:   g.Instances,
		DefaultCooldown:   300,
		AvailabilityZones: []string{Region + "a", Region + "b"},
		HealthCheckType:   "ELB",
		CreatedTime:       isoTime(now.Add(-24 * time.Hour)),
	}
	for i := range g.Instances {
		x.Instances = append(x.Instances, instanceXML{
			InstanceID:       fmt.Sprintf("i-%017x", i+1),
			InstanceType:     "t3.micro",
			AvailabilityZone: x.AvailabilityZones[i%2],
			LifecycleState:   "InService",
			HealthStatus:     "Healthy",
			LaunchTemplate:   lt,
		})
	}
	return x
}
