package config

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", env: nil, want: Config{Addr: ":8080", LogLevel: slog.LevelInfo}},
		{
			name: "everything set",
			env: map[string]string{
				"PORT": "9090", "HOST": "127.0.0.1", "LOG_LEVEL": "debug",
				"ALLOWED_ORIGINS": " https://app.example.com , http://LOCALHOST:5173/ ,,",
			},
			want: Config{
				Addr:           "127.0.0.1:9090",
				AllowedOrigins: []string{"https://app.example.com", "http://localhost:5173"},
				LogLevel:       slog.LevelDebug,
			},
		},
		{name: "port not a number", env: map[string]string{"PORT": "http"}, wantErr: "PORT"},
		{name: "port out of range", env: map[string]string{"PORT": "70000"}, wantErr: "PORT"},
		{name: "wildcard origin", env: map[string]string{"ALLOWED_ORIGINS": "*"}, wantErr: "wildcard"},
		{name: "origin without scheme", env: map[string]string{"ALLOWED_ORIGINS": "app.example.com"}, wantErr: "scheme"},
		{name: "origin with path", env: map[string]string{"ALLOWED_ORIGINS": "https://app.example.com/x"}, wantErr: "nothing else"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Addr != tt.want.Addr || got.LogLevel != tt.want.LogLevel || !slices.Equal(got.AllowedOrigins, tt.want.AllowedOrigins) {
				t.Fatalf("Parse() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
