package tf

import (
	"regexp"
	"strings"
	"time"
)

// LockInfo is a state lock as Terraform describes it (statemgr.LockInfo): Who is "<user>@<host name>"
// of the Terraform process that took it.
type LockInfo struct {
	ID, Path, Operation, Who, Version, Info string
	Created                                 time.Time // zero when Terraform printed none or an unreadable one
}

// Host is the host part of Who: what follows its last '@'.
func (l LockInfo) Host() string {
	if i := strings.LastIndexByte(l.Who, '@'); i >= 0 {
		return l.Who[i+1:]
	}
	return ""
}

// LockError is Terraform's "Error acquiring the state lock" diagnostic.
type LockError struct {
	// Message is the backend's error ("Error message: ..."): often "...already locked", with the holder's ID
	// for some backends.
	Message string
	// Info is the "Lock Info:" block. Most backends print the holder's lock there; some (http, pg, remote in
	// Terraform 1.5) print the lock the failing command tried to take instead: see HeldID.
	Info LockInfo
	// HeldID is the holder's ID when the message names it ("HTTP remote state already locked: ID=..."). When
	// it differs from Info.ID, Info describes the failing command's own lock, not the holder's.
	HeldID string
}

// HolderKnown reports whether Info describes the lock that is held.
func (e LockError) HolderKnown() bool { return e.HeldID == "" || e.HeldID == e.Info.ID }

// lockErrorSummary is the diagnostic's summary (clistate.Locker).
const lockErrorSummary = "Error acquiring the state lock"

// Bounds on what ParseLockError keeps of text a subprocess printed.
const (
	maxLockField = 512
	maxLockLines = 64 // looked at after the summary
)

var heldIDPattern = regexp.MustCompile(`\bID=([^\s,;]+)`)

// createdLayout is how Go prints a time.Time (LockInfo.Created through text/template).
const createdLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

// ParseLockError reads the first "Error acquiring the state lock" diagnostic out of Terraform's
// human-readable output (with or without colour and boxes). The text comes from a subprocess that
// configuration under review may influence: it never fails on any input, keeps fields bounded, and
// callers treat what it returns as a claim to verify, never as a fact.
func ParseLockError(text string) (LockError, bool) {
	text = ansiCodes.ReplaceAllString(strings.ToValidUTF8(text, "\uFFFD"), "")
	lines := strings.Split(text, "\n")
	start := -1
	for i, l := range lines {
		l, _ = unbox(strings.TrimRight(l, "\r"))
		if m := diagHeader.FindStringSubmatch(strings.TrimSpace(l)); m != nil && m[1] == "Error" && strings.TrimSpace(m[2]) == lockErrorSummary {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return LockError{}, false
	}
	var e LockError
	inInfo, inMessage := false, false
	for n, l := range lines[start:] {
		if n >= maxLockLines {
			break
		}
		l, edge := unbox(strings.TrimRight(l, "\r"))
		if edge {
			break // the diagnostic's box ends
		}
		if diagHeader.MatchString(strings.TrimSpace(l)) {
			break // the next diagnostic
		}
		switch t := strings.TrimSpace(l); {
		case strings.HasPrefix(t, "Error message:") && e.Message == "" && !inInfo:
			e.Message = bound(strings.TrimSpace(strings.TrimPrefix(t, "Error message:")))
			inMessage = true
		case t == "Lock Info:":
			inInfo, inMessage = true, false
		case inMessage && t != "":
			// Terraform wraps the message's line at 78 columns (the indented Lock Info lines it does not).
			e.Message = bound(e.Message + " " + t)
		case inMessage:
			inMessage = false
		case inInfo && t == "":
			inInfo = false
		case inInfo:
			k, v, ok := strings.Cut(t, ":")
			if !ok {
				inInfo = false
				continue
			}
			v = bound(strings.TrimSpace(v))
			switch strings.TrimSpace(k) {
			case "ID":
				e.Info.ID = v
			case "Path":
				e.Info.Path = v
			case "Operation":
				e.Info.Operation = v
			case "Who":
				e.Info.Who = v
			case "Version":
				e.Info.Version = v
			case "Info":
				e.Info.Info = v
			case "Created":
				e.Info.Created = parseCreated(v)
			}
		}
	}
	if m := heldIDPattern.FindStringSubmatch(e.Message); m != nil {
		e.HeldID = bound(m[1])
	}
	return e, true
}

// parseCreated reads a time as Go prints it, without the monotonic clock reading a local time may carry.
func parseCreated(v string) time.Time {
	if i := strings.Index(v, " m="); i >= 0 {
		v = v[:i]
	}
	t, err := time.Parse(createdLayout, v)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func bound(s string) string {
	if len(s) > maxLockField {
		return s[:maxLockField]
	}
	return s
}

// validLockID keeps an ID that reaches `terraform force-unlock`'s command line to what backends make
// (UUIDs, paths, "org/workspace"): printable, no spaces, not taken for a flag.
func validLockID(id string) bool {
	if id == "" || len(id) > 256 || strings.HasPrefix(id, "-") {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r > '~' {
			return false
		}
	}
	return true
}
