# Frontend instances' nginx site: serves the Vite bundle and proxies /api/ to
# the backend. Rendered by Terraform templatefile() with exactly three
# placeholders: listen_port ("80" or "127.0.0.1:8080"), web_root (directory
# holding index.html) and api_upstream (scheme://host[:port], no path, e.g.
# https://api.dev.example.com or http://127.0.0.1:18080). Apart from those,
# the file must not contain a dollar-brace or percent-brace sequence, which
# templatefile would read as its own syntax; plain nginx variables are fine.
server {
    listen ${listen_port};
    server_name _;

    root ${web_root};
    index index.html;

    server_tokens off;
    client_max_body_size 1m;
    charset utf-8;

    # Security headers, on every response (errors included). They are set
    # here only: a location with an add_header of its own would drop them.
    add_header X-Content-Type-Options "nosniff" always;
    add_header X-Frame-Options "DENY" always;
    add_header Referrer-Policy "strict-origin-when-cross-origin" always;
    add_header Permissions-Policy "camera=(), microphone=(), geolocation=()" always;
    # The bundle loads only its own script and style files; the API is the
    # same origin (/api/ below) or api_upstream, if the bundle was built with
    # VITE_API_URL pointing there.
    add_header Content-Security-Policy "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self' ${api_upstream}; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'" always;

    # Cache policy per location, through one variable, for the same reason.
    # An empty value sends no header (the API sets its own).
    set $cache_control "public, max-age=3600";
    add_header Cache-Control $cache_control always;

    gzip on;
    gzip_vary on;
    gzip_proxied any;
    gzip_comp_level 5;
    gzip_min_length 1024;
    gzip_types text/plain text/css application/javascript text/javascript application/json image/svg+xml;

    # Vite's file names carry a content hash: cache them for a year.
    location ^~ /assets/ {
        set $cache_control "public, max-age=31536000, immutable";
        try_files $uri =404;
    }

    # index.html names the current hashes, so browsers revalidate it.
    location = /index.html {
        set $cache_control "no-cache";
    }

    # Health check of the load balancer's target group.
    location = /healthz {
        set $cache_control "no-store";
        access_log off;
        default_type text/plain;
        return 200 "ok\n";
    }

    location ^~ /api/ {
        set $cache_control "";
        # A variable in proxy_pass makes nginx re-resolve the upstream name
        # (a load balancer's addresses change) through the VPC's DNS. With no
        # URI part, the request path is passed unchanged: /api/v1/items
        # reaches the backend as /api/v1/items.
        resolver 169.254.169.253 valid=30s ipv6=off;
        resolver_timeout 5s;
        set $backend "${api_upstream}";
        proxy_pass $backend;

        proxy_http_version 1.1;
        proxy_set_header Host $proxy_host;
        proxy_set_header Connection "";
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        # W3C trace context from the browser, so the API's trace (X-Ray, through
        # the ADOT sidecar) continues it. nginx starts no trace of its own, and a
        # header the client did not send stays absent (an empty value is not sent).
        proxy_set_header traceparent $http_traceparent;
        proxy_set_header tracestate $http_tracestate;
        proxy_ssl_server_name on;
        proxy_connect_timeout 5s;
        proxy_send_timeout 30s;
        proxy_read_timeout 30s;
    }

    # Dot files (.git, .env) are never served.
    location ~ /\.(?!well-known/) {
        deny all;
    }

    # Single-page app: unknown paths get index.html and the app routes them.
    location / {
        try_files $uri /index.html;
    }
}
