/* Datasette table pages: facet suggestions allowed (read by table.js). */
window.DATASETTE_ALLOW_FACET = true;
