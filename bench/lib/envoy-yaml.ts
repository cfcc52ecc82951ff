// The seed pod's envoy.yaml shape on loopback, for the breaker bench and the tests that run it.

/**
 * One listener on `port` routing everything to cluster `backend` (one host, `backend`) with a
 * route timeout, the cluster's circuit_breakers `thresholds` and `outlier_detection` (YAML flow
 * mappings), and no panic routing (an ejected host gets `503 no healthy upstream`).
 */
export function seedEnvoyYaml(o: {
  port: number;
  backend: number;
  timeoutMs: number;
  thresholds: string;
  outlier: string;
}): string {
  return `static_resources:
  listeners:
    - name: app
      address: { socket_address: { address: 127.0.0.1, port_value: ${o.port} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: app
                route_config:
                  virtual_hosts:
                    - name: backend
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route: { cluster: backend, timeout: ${o.timeoutMs / 1000}s }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: backend
      connect_timeout: 0.25s
      type: STATIC
      load_assignment:
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.backend} } } }
      circuit_breakers:
        thresholds: [ ${o.thresholds} ]
      outlier_detection: ${o.outlier}
      common_lb_config: { healthy_panic_threshold: { value: 0 } }
`;
}
