package moto

import (
	"errors"
	"os/exec"
	"testing"
)

// A server that dies before answering is reported at once (Start then retries on a new port), not waited for.
func TestStartReportsAnEarlyExit(t *testing.T) {
	bin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1) to stand in for a moto_server that dies")
	}
	if _, err := start(t, bin, nil); !errors.Is(err, errExited) {
		t.Errorf("err = %v, want errExited", err)
	}
}
