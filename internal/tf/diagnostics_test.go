package tf

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Diagnostic
	}{
		{
			name: "error with a place inside a block",
			text: `Error: Unsupported argument

  on main.tf line 12, in resource "aws_s3_bucket" "b":
  12:   bucket_nam = "x"

An argument named "bucket_nam" is not expected here. Did you mean "bucket"?
`,
			want: []Diagnostic{{Severity: "error", Summary: "Unsupported argument", File: "main.tf", Line: 12,
				Detail: `An argument named "bucket_nam" is not expected here. Did you mean "bucket"?`}},
		},
		{
			name: "place without a block",
			text: "Error: Invalid block definition\n\n  on main.tf line 5:\n   5: this is not hcl\n\nA block definition must have content.\n",
			want: []Diagnostic{{Severity: "error", Summary: "Invalid block definition", File: "main.tf", Line: 5,
				Detail: "A block definition must have content."}},
		},
		{
			name: "file in a module directory with spaces",
			text: "Error: Unsupported argument\n\n  on modules/my net/main.tf line 3, in resource \"x\" \"y\":\n   3:   bogus = 2\n\nNot expected.\n",
			want: []Diagnostic{{Severity: "error", Summary: "Unsupported argument", File: "modules/my net/main.tf", Line: 3, Detail: "Not expected."}},
		},
		{
			name: "block label mentioning a line",
			text: "Error: Bad\n\n  on a line 7.tf line 9, in module \"x line 3\":\n   9: x\n\nD\n",
			want: []Diagnostic{{Severity: "error", Summary: "Bad", File: "a line 7.tf", Line: 9, Detail: "D"}},
		},
		{
			name: "warning without a place",
			text: "Warning: Value for undeclared variable\n\nThe root module does not declare a variable named \"y\".\n\nSecond paragraph.\n",
			want: []Diagnostic{{Severity: "warning", Summary: "Value for undeclared variable",
				Detail: "The root module does not declare a variable named \"y\".\n\nSecond paragraph."}},
		},
		{
			name: "warning with a place, then an error",
			text: "Warning: Deprecated attribute\n\n  on vpc.tf line 4, in resource \"aws_vpc\" \"v\":\n   4:   enable_classiclink = false\n\nGone soon.\n\nError: Missing required argument\n\n  on vpc.tf line 1, in resource \"aws_vpc\" \"v\":\n   1: resource \"aws_vpc\" \"v\" {\n\nThe argument \"cidr_block\" is required.\n",
			want: []Diagnostic{
				{Severity: "warning", Summary: "Deprecated attribute", File: "vpc.tf", Line: 4, Detail: "Gone soon."},
				{Severity: "error", Summary: "Missing required argument", File: "vpc.tf", Line: 1, Detail: `The argument "cidr_block" is required.`},
			},
		},
		{
			name: "boxed and coloured, with a value annotation in the snippet",
			text: "\x1b[31m╷\x1b[0m\x1b[0m\n\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mInvalid operand\x1b[0m\n\x1b[31m│\x1b[0m \x1b[0m\n" +
				"\x1b[31m│\x1b[0m \x1b[0m\x1b[0m  on main.tf line 6, in resource \"terraform_data\" \"a\":\n\x1b[31m│\x1b[0m \x1b[0m   6:   input = \x1b[4mvar.x\x1b[0m + 1\x1b[0m\n" +
				"\x1b[31m│\x1b[0m \x1b[0m    \x1b[90m├────────────────\x1b[0m\n\x1b[31m│\x1b[0m \x1b[0m\x1b[0m    \x1b[90m│\x1b[0m \x1b[1mvar.x\x1b[0m is \"a\"\n\x1b[31m│\x1b[0m \x1b[0m\x1b[0m\n" +
				"\x1b[31m│\x1b[0m \x1b[0mUnsuitable value for left operand: a number is required.\n\x1b[31m╵\x1b[0m\x1b[0m\n",
			want: []Diagnostic{{Severity: "error", Summary: "Invalid operand", File: "main.tf", Line: 6,
				Detail: "Unsuitable value for left operand: a number is required."}},
		},
		{
			name: "boxed diagnostic followed by plan output",
			text: "╷\n│ Warning: W\n│\n│ Detail.\n╵\n\nPlan: 1 to add, 0 to change, 0 to destroy.\n",
			want: []Diagnostic{{Severity: "warning", Summary: "W", Detail: "Detail."}},
		},
		{
			name: "boxless diagnostic ended by the plan's rule",
			text: "Warning: W\n\nDetail.\n\n─────────────────\n\nNote: You didn't use the -out option.\n",
			want: []Diagnostic{{Severity: "warning", Summary: "W", Detail: "Detail."}},
		},
		{
			name: "CRLF line ends and text before the first diagnostic",
			text: "exit status 1\r\n\r\nError: No configuration files\r\n\r\nPlan requires configuration.\r\n",
			want: []Diagnostic{{Severity: "error", Summary: "No configuration files", Detail: "Plan requires configuration."}},
		},
		{
			name: "a place that is not first is detail",
			text: "Error: E\n\nSee below.\n  on main.tf line 3:\n",
			want: []Diagnostic{{Severity: "error", Summary: "E", Detail: "See below.\n  on main.tf line 3:"}},
		},
		{
			name: "line number too large to be one",
			text: "Error: E\n\n  on main.tf line 99999999999999999999999:\n",
			want: []Diagnostic{{Severity: "error", Summary: "E", Detail: "  on main.tf line 99999999999999999999999:"}},
		},
		{
			name: "line 0 and a blank file are no place",
			text: "Error: E\n\n  on main.tf line 0:\n\nError: F\n\n  on   line 3:\n",
			want: []Diagnostic{{Severity: "error", Summary: "E", Detail: "  on main.tf line 0:"}, {Severity: "error", Summary: "F", Detail: "  on   line 3:"}},
		},
		{
			name: "header only",
			text: "Error: Terraform exited",
			want: []Diagnostic{{Severity: "error", Summary: "Terraform exited"}},
		},
		{name: "nothing Terraform said", text: "exit status 1\nsomething else\n", want: nil},
		{name: "empty", text: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseDiagnostics(tt.text)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseDiagnostics:\n got  %#v\n want %#v", got, tt.want)
			}
		})
	}
}

// The fixtures are Terraform 1.5.7's own output on small broken configurations (terraform_data only), with
// colour (and the box) and with -no-color.
func TestParseDiagnosticsOfTerraformOutput(t *testing.T) {
	cliConfigWarning := Diagnostic{Severity: "warning", Summary: "Unable to open CLI configuration file",
		Detail: `The CLI configuration file at "/nonexistent/terraformrc" does not exist.`}
	validate := []Diagnostic{
		cliConfigWarning,
		{Severity: "error", Summary: "Reference to undeclared input variable", File: "main.tf", Line: 2,
			Detail: "An input variable with the name \"nope\" has not been declared. This variable\ncan be declared with a variable \"nope\" {} block."},
		{Severity: "error", Summary: "Invalid reference", File: "main.tf", Line: 6,
			Detail: "A reference to a resource type must be followed by at least one attribute\naccess, specifying the resource name."},
		{Severity: "error", Summary: "Unsupported argument", File: "modules/my mod/main.tf", Line: 3,
			Detail: `An argument named "bogus" is not expected here.`},
	}
	operand := []Diagnostic{{Severity: "error", Summary: "Invalid operand", File: "main.tf", Line: 6,
		Detail: "Unsuitable value for left operand: a number is required."}}
	tests := []struct {
		file string
		want []Diagnostic
	}{
		{"validate_color.txt", validate},
		{"validate_nocolor.txt", validate},
		{"operand_color.txt", operand},
		{"operand_nocolor.txt", operand},
		{"syntax_nocolor.txt", []Diagnostic{
			{Severity: "error", Summary: "Unsupported block type", File: "main.tf", Line: 5, Detail: `Blocks of type "this" are not expected here.`},
			{Severity: "error", Summary: "Invalid block definition", File: "main.tf", Line: 5,
				Detail: "A block definition must have block content delimited by \"{\" and \"}\", starting\non the same line as the block header."},
		}},
		{"noconfig_nocolor.txt", []Diagnostic{{Severity: "error", Summary: "No configuration files",
			Detail: "Plan requires configuration to be present. Planning without a configuration\nwould mark everything for destruction, which is normally not what is desired.\n" +
				"If you would like to destroy everything, run plan with the -destroy option.\nOtherwise, create a Terraform configuration file (.tf file) and try again."}}},
		{"plan_warning_color.txt", []Diagnostic{{Severity: "warning", Summary: "Value for undeclared variable",
			Detail: "The root module does not declare a variable named \"y\" but a value was found\nin file \"terraform.tfvars\". If you meant to use this value, add a\n" +
				"\"variable\" block to the configuration.\n\nTo silence these warnings, use TF_VAR_... environment variables to provide\n" +
				"certain \"global\" settings to all configurations in your organization. To\nreduce the verbosity of these warnings, use the -compact-warnings option."}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "diagnostics", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := ParseDiagnostics(string(raw))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseDiagnostics:\n got  %#v\n want %#v", got, tt.want)
			}
		})
	}
}

func TestParseDiagnosticsBounds(t *testing.T) {
	t.Run("at most 100 diagnostics", func(t *testing.T) {
		var b strings.Builder
		for i := range 150 {
			fmt.Fprintf(&b, "╷\n│ Error: E%d\n│\n│   on main.tf line %d:\n│ %d: x\n│\n│ D\n╵\n", i, i+1, i+1)
		}
		got := ParseDiagnostics(b.String())
		if len(got) != 100 || got[99].Summary != "E99" || got[99].Line != 100 {
			t.Fatalf("%d diagnostics, last %+v", len(got), got[len(got)-1])
		}
	})
	t.Run("detail cut at 4 KiB on a rune boundary", func(t *testing.T) {
		got := ParseDiagnostics("Error: E\n\n" + strings.Repeat("é", 5000) + "\n" + strings.Repeat("long line\n", 2000))
		if len(got) != 1 {
			t.Fatalf("%d diagnostics", len(got))
		}
		d := got[0].Detail
		if len(d) > 4<<10 || !utf8.ValidString(d) || !strings.HasSuffix(d, "…") {
			t.Fatalf("detail %d bytes, valid %v, ends %q", len(d), utf8.ValidString(d), d[max(0, len(d)-8):])
		}
	})
}

func FuzzParseDiagnostics(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "diagnostics", "*.txt"))
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(raw))
	}
	f.Add("Error: E\n\n  on \xff\xfe line 1:\n")
	f.Add("│ Error: x\n│   on a\rb line 2, in x:\n╵")
	f.Fuzz(func(t *testing.T, text string) {
		got := ParseDiagnostics(text)
		if len(got) > 100 {
			t.Fatalf("%d diagnostics", len(got))
		}
		for _, d := range got {
			if d.Line < 0 || strings.ContainsAny(d.File, "\n") || len(d.Detail) > 4<<10 {
				t.Fatalf("bad diagnostic %#v", d)
			}
			if d.Severity != "error" && d.Severity != "warning" {
				t.Fatalf("severity %q", d.Severity)
			}
			if (d.File == "") != (d.Line == 0) {
				t.Fatalf("file %q line %d", d.File, d.Line)
			}
		}
	})
}
