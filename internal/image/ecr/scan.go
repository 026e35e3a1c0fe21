package ecr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ErrScanUnavailable: the image has no scan to wait for (scan on push off, basic scanning already used
// today for this image, or an image type ECR does not scan).
var ErrScanUnavailable = errors.New("ECR image scan unavailable")

// ErrCriticalFindings is matched by a *FindingsError.
var ErrCriticalFindings = errors.New("image scan found CRITICAL vulnerabilities")

// FindingsError says the scan completed with CRITICAL findings and the caller asked to fail on them.
type FindingsError struct {
	Digest string
	Counts map[string]int32
}

func (e *FindingsError) Error() string {
	return fmt.Sprintf("image %s: %d CRITICAL finding(s) (counts %v)", e.Digest, e.Counts["CRITICAL"], e.Counts)
}

// Is makes errors.Is(err, ErrCriticalFindings) true.
func (e *FindingsError) Is(target error) bool { return target == ErrCriticalFindings }

// ScanOptions tune WaitForScan.
type ScanOptions struct {
	// FailOnCritical returns a *FindingsError when the completed scan counts CRITICAL findings.
	FailOnCritical bool
	// Timeout bounds the wait; default 10 minutes.
	Timeout time.Duration
	// FirstInterval between polls doubles up to MaxInterval; defaults 5s and 30s.
	FirstInterval, MaxInterval time.Duration
}

// ScanResult is a finished scan.
type ScanResult struct {
	Status string
	// Counts by severity (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED).
	Counts map[string]int32
}

// WaitForScan polls DescribeImageScanFindings with backoff until the scan of repo@digest is COMPLETE or FAILED.
func (r *Registry) WaitForScan(ctx context.Context, repo, digest string, o ScanOptions) (ScanResult, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.FirstInterval <= 0 {
		o.FirstInterval = 5 * time.Second
	}
	if o.MaxInterval < o.FirstInterval {
		o.MaxInterval = max(30*time.Second, o.FirstInterval)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout,
		fmt.Errorf("scan of %s@%s not finished after %s", repo, digest, o.Timeout))
	defer cancel()
	wait := o.FirstInterval
	for {
		out, err := r.api.DescribeImageScanFindings(ctx, &awsecr.DescribeImageScanFindingsInput{
			RepositoryName: aws.String(repo), ImageId: &types.ImageIdentifier{ImageDigest: aws.String(digest)},
			MaxResults: aws.Int32(1),
		})
		var snf *types.ScanNotFoundException
		if errors.As(err, &snf) {
			return ScanResult{}, fmt.Errorf("scan %s@%s: %w: %s", repo, digest, ErrScanUnavailable, snf.ErrorMessage())
		}
		if err != nil {
			if ctx.Err() != nil {
				return ScanResult{}, fmt.Errorf("scan %s@%s: %w", repo, digest, context.Cause(ctx))
			}
			return ScanResult{}, fmt.Errorf("scan %s@%s: %w", repo, digest, err)
		}
		var status types.ScanStatus
		desc := ""
		if out.ImageScanStatus != nil {
			status, desc = out.ImageScanStatus.Status, aws.ToString(out.ImageScanStatus.Description)
		}
		switch status {
		case types.ScanStatusComplete:
			res := ScanResult{Status: string(status), Counts: map[string]int32{}}
			if out.ImageScanFindings != nil {
				for k, v := range out.ImageScanFindings.FindingSeverityCounts {
					res.Counts[k] = v
				}
			}
			if o.FailOnCritical && res.Counts[string(types.FindingSeverityCritical)] > 0 {
				return res, &FindingsError{Digest: digest, Counts: res.Counts}
			}
			return res, nil
		case types.ScanStatusFailed:
			return ScanResult{Status: string(status)}, fmt.Errorf("scan %s@%s failed: %s", repo, digest, desc)
		case types.ScanStatusUnsupportedImage, types.ScanStatusScanEligibilityExpired,
			types.ScanStatusFindingsUnavailable, types.ScanStatusLimitExceeded, types.ScanStatusImageArchived:
			return ScanResult{Status: string(status)}, fmt.Errorf("scan %s@%s: %w: %s %s",
				repo, digest, ErrScanUnavailable, status, desc)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ScanResult{}, fmt.Errorf("scan %s@%s: last status %s: %w", repo, digest, status, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, o.MaxInterval)
	}
}
