/* Datasette's page menus are <details> elements: a click anywhere outside an
   open one closes it. Served as a file (not inline) so the site's
   Content-Security-Policy can forbid inline script. */
document.body.addEventListener("click", function (event) {
  var inside = event.target && event.target.closest ? event.target.closest("details") : null;
  document.querySelectorAll("details[open]").forEach(function (menu) {
    if (menu !== inside) { menu.open = false; }
  });
});
