package redact

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// planText is about size bytes of Terraform plan output, with a configured value and a credential now and
// then.
func planText(size int) string {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `  # aws_instance.web[%d] will be created
  + resource "aws_instance" "web" {
      + ami                          = "ami-0c55b159cbfafe1f0"
      + arn                          = (known after apply)
      + associate_public_ip_address  = (known after apply)
      + instance_type                = "t3.micro"
      + private_dns                  = (known after apply)
      + subnet_id                    = "subnet-0bb1c79de3EXAMPLE"
      + tags                         = {
          + "Name" = "web-%d"
        }
      + user_data                    = "d41d8cd98f00b204e9800998ecf8427e"
    }

`, i, i)
		if i%50 == 0 {
			fmt.Fprintf(&b, "      + password = %q\n      + token    = %q\n", benchSecrets[i%len(benchSecrets)], ghp)
		}
	}
	b.WriteString("\nPlan: 1000 to add, 0 to change, 0 to destroy.\n")
	return b.String()
}

var benchSecrets = func() []string {
	var s []string
	for i := range 10 {
		s = append(s, fmt.Sprintf("configured-secret-%02d-Zq8Xw", i))
	}
	return s
}()

func BenchmarkString(b *testing.B) {
	text := planText(1 << 20)
	r := New(Secrets("secret", benchSecrets...)...)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		r.String(text)
	}
}

// Stage logs arrive line by line.
func BenchmarkWriter(b *testing.B) {
	text := planText(1 << 20)
	lines := strings.SplitAfter(text, "\n")
	r := New(Secrets("secret", benchSecrets...)...)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		w := r.Writer(io.Discard)
		for _, l := range lines {
			_, _ = io.WriteString(w, l)
		}
		_ = w.Close()
	}
}
