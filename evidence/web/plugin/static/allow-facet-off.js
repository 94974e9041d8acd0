/* Datasette table pages: facet suggestions not allowed (read by table.js). */
window.DATASETTE_ALLOW_FACET = false;
