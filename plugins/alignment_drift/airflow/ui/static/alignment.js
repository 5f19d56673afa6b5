// The Alignment page's links when it is shown inside Airflow's UI.
//
// Airflow shows the page in a sandboxed iframe (same origin, scripts allowed,
// but no top-level navigation and no pop-ups). There, a link into Airflow is
// handed to Airflow's own router (the page's URL changes, the UI stays one),
// and an external link (MLflow) opens a new tab from the Airflow window.
// Outside an iframe, or when anything fails, links behave as plain links.
(function () {
  "use strict";

  var host = null;
  try {
    if (window.parent !== window && window.parent.location.origin === window.location.origin) {
      host = window.parent;
    }
  } catch (error) {
    host = null;
  }
  if (host === null) {
    return;
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    var link = event.target.closest ? event.target.closest("a[data-nav]") : null;
    if (link === null) {
      return;
    }
    try {
      if (link.dataset.nav === "airflow") {
        var url = new URL(link.href);
        host.history.pushState(null, "", url.pathname + url.search + url.hash);
        host.dispatchEvent(new PopStateEvent("popstate", { state: null }));
        event.preventDefault();
      } else if (link.dataset.nav === "external") {
        host.open(link.href, "_blank", "noopener,noreferrer");
        event.preventDefault();
      }
    } catch (error) {
      // leave the click to the browser
    }
  });
})();
