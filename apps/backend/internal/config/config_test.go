package config

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", env: nil, want: Config{Addr: ":8080", LogLevel: slog.LevelInfo, Store: StoreMemory}},
		{
			name: "everything set",
			env: map[string]string{
				"PORT": "9090", "HOST": "127.0.0.1", "LOG_LEVEL": "debug", "STORE": "memory",
				"ALLOWED_ORIGINS": " https://app.example.com , http://LOCALHOST:5173/ ,,",
			},
			want: Config{
				Addr:           "127.0.0.1:9090",
				AllowedOrigins: []string{"https://app.example.com", "http://localhost:5173"},
				LogLevel:       slog.LevelDebug,
				Store:          StoreMemory,
			},
		},
		{
			name: "postgres store",
			env:  map[string]string{"STORE": "postgres", "DB_HOST": "db", "DB_NAME": "items", "DB_USER": "app"},
			want: Config{Addr: ":8080", Store: StorePostgres, DB: DB{Host: "db", Port: 5432, Name: "items", User: "app", SSLMode: SSLRequire, MaxConns: DefaultMaxConns}},
		},
		{name: "memory store ignores the database variables", env: map[string]string{"DB_PORT": "nonsense"}, want: Config{Addr: ":8080", Store: StoreMemory}},
		{name: "postgres store without its settings", env: map[string]string{"STORE": "postgres"}, wantErr: "DB_HOST, DB_NAME, DB_USER"},
		{name: "unknown store", env: map[string]string{"STORE": "redis"}, wantErr: "STORE"},
		{name: "port not a number", env: map[string]string{"PORT": "http"}, wantErr: "PORT"},
		{name: "port out of range", env: map[string]string{"PORT": "70000"}, wantErr: "PORT"},
		{name: "wildcard origin", env: map[string]string{"ALLOWED_ORIGINS": "*"}, wantErr: "wildcard"},
		{name: "origin without scheme", env: map[string]string{"ALLOWED_ORIGINS": "app.example.com"}, wantErr: "scheme"},
		{name: "origin with path", env: map[string]string{"ALLOWED_ORIGINS": "https://app.example.com/x"}, wantErr: "nothing else"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Addr != tt.want.Addr || got.LogLevel != tt.want.LogLevel || !slices.Equal(got.AllowedOrigins, tt.want.AllowedOrigins) ||
				got.Store != tt.want.Store || got.DB != tt.want.DB || got.Tracing != tt.want.Tracing {
				t.Fatalf("Parse() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseTracing(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Tracing
		wantErr string
	}{
		{name: "off without an endpoint", env: map[string]string{"OTEL_SERVICE_NAME": "backend-dev"}, want: Tracing{}},
		{name: "base endpoint gets the traces path", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/", "OTEL_SERVICE_NAME": "backend-dev"},
			want: Tracing{Enabled: true, Endpoint: "http://localhost:4318/v1/traces", ServiceName: "backend-dev"}},
		{name: "traces endpoint used as is", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:1"},
			want: Tracing{Enabled: true, Endpoint: "http://collector:4318/custom", ServiceName: DefaultServiceName}},
		{name: "SDK disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318", "OTEL_SDK_DISABLED": "true"}, want: Tracing{}},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318", "OTEL_TRACES_EXPORTER": "none"}, want: Tracing{}},
		{name: "gRPC is not built in", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: "http/protobuf"},
		{name: "endpoint without scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, wantErr: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTracing(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseTracing() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseTracing() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseMigrate(t *testing.T) {
	db := map[string]string{"DB_HOST": "db", "DB_NAME": "items", "DB_USER": "app"}
	got, err := ParseMigrate(env(db))
	if err != nil {
		t.Fatal(err)
	}
	if got.Dir != "" || got.LockTimeout != DefaultLockTimeout || got.DB.Host != "db" {
		t.Fatalf("ParseMigrate() = %+v", got)
	}
	db["MIGRATIONS_DIR"], db["MIGRATE_LOCK_TIMEOUT"] = "/tmp/m", "30s"
	if got, err = ParseMigrate(env(db)); err != nil || got.Dir != "/tmp/m" || got.LockTimeout != 30*time.Second {
		t.Fatalf("ParseMigrate() = %+v, %v", got, err)
	}
	db["MIGRATE_LOCK_TIMEOUT"] = "forever"
	if _, err := ParseMigrate(env(db)); err == nil || !strings.Contains(err.Error(), "MIGRATE_LOCK_TIMEOUT") {
		t.Fatalf("ParseMigrate() with a bad timeout = %v", err)
	}
	if _, err := ParseMigrate(env(nil)); err == nil || !strings.Contains(err.Error(), "DB_HOST") {
		t.Fatalf("ParseMigrate() without a database = %v", err)
	}
}
