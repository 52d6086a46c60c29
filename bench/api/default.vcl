vcl 4.1;

# Varnish in front of the uncached demo handler, caching the same routes
# apiopt caches, for the same TTL. The demo sends no Cache-Control, so the
# TTL is set here, as an operator would.
backend demo {
    .host = "127.0.0.1";
    .port = "__PLAIN_PORT__"; # run.sh fills in the plain server's port
}

sub vcl_recv {
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.url ~ "^/api/products") {
        unset req.http.Cookie;
        return (hash);
    }
    return (pass);
}

sub vcl_backend_response {
    if (bereq.url ~ "^/api/products") {
        set beresp.ttl = 1h;
        set beresp.grace = 0s;
    }
}
