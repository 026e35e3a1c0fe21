package items

import (
	"encoding/base64"
	"errors"
	"math"
	"testing"
)

func TestCursorRoundTrips(t *testing.T) {
	for _, seq := range []int64{0, 1, 42, math.MaxInt64} {
		got, err := decodeCursor(encodeCursor(seq))
		if err != nil || got != seq {
			t.Errorf("decodeCursor(encodeCursor(%d)) = %d, %v", seq, got, err)
		}
	}
}

func TestDecodeCursorRefusesWhatItDidNotMake(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, cursor := range []string{"!!", "eA", enc("s"), enc("x1"), enc("s-1"), enc("s+1"), enc("s1a"), enc("s9223372036854775808")} {
		if _, err := decodeCursor(cursor); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("decodeCursor(%q) = %v, want ErrInvalidCursor", cursor, err)
		}
	}
}

func TestWellFormedID(t *testing.T) {
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{
		id: true, "0123456789abcdef0123456789abcdef": true,
		"": false, "nope": false, "0123456789ABCDEF0123456789ABCDEF": false,
		"0123456789abcdef0123456789abcde\x00": false, "0123456789abcdef0123456789abcdef0": false,
	} {
		if got := wellFormedID(s); got != want {
			t.Errorf("wellFormedID(%q) = %v, want %v", s, got, want)
		}
	}
}
