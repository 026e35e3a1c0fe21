package tf

import (
	"strings"
	"testing"
	"time"
)

// httpLocked is Terraform 1.5.7's output for a plan against an http backend whose lock is held: the Lock
// Info block is the plan's own attempt, the holder is only named in the message.
const httpLocked = `
Error: Error acquiring the state lock

Error message: HTTP remote state already locked: ID=held-id-1
Lock Info:
  ID:        71708b49-e39b-d22e-2445-8acfcf4b24a5
  Path:      
  Operation: OperationTypePlan
  Who:       root@vm
  Version:   1.5.7
  Created:   2026-12-05 10:10:30.335597743 +0000 UTC
  Info:      


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
`

// boxedS3 is the same diagnostic with colour off but boxes on, as a backend that reports the holder prints it.
const boxedS3 = "exit status 1\n\n╷\n│ Error: Error acquiring the state lock\n│ \n│ Error message: ConditionalCheckFailedException: The conditional request failed\n" +
	"│ Lock Info:\n│   ID:        2468f79c-e26d-054c-fa90-f74911480e92\n│   Path:      bucket/env/dev.tfstate\n│   Operation: OperationTypeApply\n" +
	"│   Who:       sandbox@rs12a1-0a1b2c3d\n│   Version:   1.5.7\n│   Created:   2025-10-25 06:20:29.367257207 +0000 UTC\n│   Info:      \n│ \n" +
	"│ Terraform acquires a state lock to protect the state from being written\n╵\n"

func TestParseLockError(t *testing.T) {
	created := time.Date(2025, 10, 25, 6, 20, 29, 367257207, time.UTC)
	tests := []struct {
		name        string
		in          string
		ok          bool
		want        LockError
		holderKnown bool
	}{
		{name: "http backend: holder named by id only", in: httpLocked, ok: true, want: LockError{
			Message: "HTTP remote state already locked: ID=held-id-1", HeldID: "held-id-1",
			Info: LockInfo{ID: "71708b49-e39b-d22e-2445-8acfcf4b24a5", Operation: "OperationTypePlan", Who: "root@vm", Version: "1.5.7",
				Created: time.Date(2026, 12, 5, 10, 10, 30, 335597743, time.UTC)}}},
		{name: "boxed, holder's info", in: boxedS3, ok: true, holderKnown: true, want: LockError{
			Message: "ConditionalCheckFailedException: The conditional request failed",
			Info: LockInfo{ID: "2468f79c-e26d-054c-fa90-f74911480e92", Path: "bucket/env/dev.tfstate", Operation: "OperationTypeApply",
				Who: "sandbox@rs12a1-0a1b2c3d", Version: "1.5.7", Created: created}}},
		{name: "coloured", in: "\x1b[31m╷\x1b[0m\n\x1b[31m│\x1b[0m \x1b[1m\x1b[31mError: \x1b[0m\x1b[1mError acquiring the state lock\x1b[0m\n" +
			"│ Error message: resource temporarily unavailable\n│ Lock Info:\n│   ID:        abc\n│   Who:       dana@laptop\n│   Created:   2025-10-25 06:20:29.367257207 +0000 UTC m=+0.5\n╵\n",
			ok: true, holderKnown: true, want: LockError{Message: "resource temporarily unavailable", Info: LockInfo{ID: "abc", Who: "dana@laptop", Created: created}}},
		{name: "message wrapped at 78 columns", in: "exit status 1\n\nError: Error acquiring the state lock\n\nError message: HTTP remote state already locked:\nID=4973dee4-08c3-2367-0176-819d329bc7a1\nLock Info:\n  ID:        22fd\n  Who:       sandbox@rs3a2-42a653e2\n\n",
			ok: true, want: LockError{Message: "HTTP remote state already locked: ID=4973dee4-08c3-2367-0176-819d329bc7a1", HeldID: "4973dee4-08c3-2367-0176-819d329bc7a1",
				Info: LockInfo{ID: "22fd", Who: "sandbox@rs3a2-42a653e2"}}},
		{name: "unreadable time", in: "Error: Error acquiring the state lock\nLock Info:\n  ID: x\n  Created: yesterday\n", ok: true, holderKnown: true,
			want: LockError{Info: LockInfo{ID: "x"}}},
		{name: "another error", in: "Error: Error releasing the state lock\n\nLock Info:\n  ID: x\n", ok: false},
		{name: "summary quoted inside another diagnostic", in: "Error: Invalid value\n\nError acquiring the state lock\n", ok: false},
		{name: "empty", in: "", ok: false},
		{name: "lock info of the next diagnostic is not taken", in: "Error: Error acquiring the state lock\n\nError message: x\n\nError: other\nLock Info:\n  ID: y\n",
			ok: true, holderKnown: true, want: LockError{Message: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseLockError(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ParseLockError = %+v, %v\nwant %+v, %v", got, ok, tt.want, tt.ok)
			}
			if ok && got.HolderKnown() != tt.holderKnown {
				t.Fatalf("HolderKnown = %v, want %v", got.HolderKnown(), tt.holderKnown)
			}
		})
	}
}

func TestLockInfoHost(t *testing.T) {
	for who, want := range map[string]string{"sandbox@rs1a1-x": "rs1a1-x", "a@b@c": "c", "nobody": "", "@h": "h", "": ""} {
		if got := (LockInfo{Who: who}).Host(); got != want {
			t.Errorf("Host(%q) = %q, want %q", who, got, want)
		}
	}
}

func TestValidLockID(t *testing.T) {
	for id, want := range map[string]bool{
		"2468f79c-e26d-054c-fa90-f74911480e92": true, "org/workspace": true, "": false, "-lock=false": false,
		"a b": false, "a\nb": false, strings.Repeat("a", 257): false, "é": false,
	} {
		if got := validLockID(id); got != want {
			t.Errorf("validLockID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzParseLockError(f *testing.F) {
	for _, s := range []string{httpLocked, boxedS3, "", "Error: Error acquiring the state lock\nLock Info:\n  Created: 2025-10-25 06:20:29 +0000 UTC m=x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, ok := ParseLockError(s)
		if !ok {
			if e != (LockError{}) {
				t.Fatalf("no lock error, yet %+v", e)
			}
			return
		}
		for _, v := range []string{e.Message, e.HeldID, e.Info.ID, e.Info.Who, e.Info.Path, e.Info.Operation, e.Info.Version, e.Info.Info} {
			if len(v) > maxLockField || strings.Contains(v, "\n") {
				t.Fatalf("field not bounded to one line: %q", v)
			}
		}
		if !strings.Contains(s, lockErrorSummary) {
			t.Fatalf("a lock error found in text without the summary: %q", s)
		}
	})
}
