package items

import (
	"errors"
	"strings"
	"testing"
)

func TestInputValidate(t *testing.T) {
	tests := []struct {
		name   string
		in     Input
		fields map[string]string // nil when valid
	}{
		{"name only is valid", Input{Name: "deploy"}, nil},
		{"name and description are valid", Input{Name: "deploy", Description: "to dev"}, nil},
		{"name at the limit is valid", Input{Name: strings.Repeat("é", MaxNameLen)}, nil},
		{"empty name is refused", Input{}, map[string]string{"name": "is required"}},
		{"long name is refused", Input{Name: strings.Repeat("a", MaxNameLen+1)},
			map[string]string{"name": "must be at most 100 characters"}},
		{"long description is refused", Input{Name: "a", Description: strings.Repeat("a", MaxDescriptionLen+1)},
			map[string]string{"description": "must be at most 1000 characters"}},
		{"every bad field is reported", Input{Description: strings.Repeat("a", MaxDescriptionLen+1)},
			map[string]string{"name": "is required", "description": "must be at most 1000 characters"}},
		{"invalid UTF-8 is refused", Input{Name: "a\xff"}, map[string]string{"name": "must be valid UTF-8"}},
		{"NUL is refused", Input{Name: "a", Description: "b\x00c"}, map[string]string{"description": "must not contain NUL characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate() = %v, want *ValidationError", err)
			}
			if len(verr.Fields) != len(tt.fields) {
				t.Fatalf("fields = %v, want %v", verr.Fields, tt.fields)
			}
			for k, v := range tt.fields {
				if verr.Fields[k] != v {
					t.Errorf("field %q = %q, want %q", k, verr.Fields[k], v)
				}
			}
		})
	}
}

func TestNormalizeTrimsSpace(t *testing.T) {
	got := Input{Name: "  deploy \n", Description: "\t to dev "}.Normalize()
	if got != (Input{Name: "deploy", Description: "to dev"}) {
		t.Fatalf("Normalize() = %+v", got)
	}
	if err := (Input{Name: "   "}).Normalize().Validate(); err == nil {
		t.Fatal("a blank name passed validation")
	}
}

func TestValidationErrorMessageIsStable(t *testing.T) {
	err := &ValidationError{Fields: map[string]string{"name": "is required", "description": "is long"}}
	want := "invalid item: description is long; name is required"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}
