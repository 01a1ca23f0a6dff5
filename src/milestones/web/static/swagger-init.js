// Starts Swagger UI on the service's own document. A file, not an inline script, so that the page runs under
// the service's Content-Security-Policy; validatorUrl null keeps Swagger UI from calling validator.swagger.io.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
