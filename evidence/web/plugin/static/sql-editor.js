/* The SQL editor of Datasette's database and query pages (CodeMirror, with
   Shift-Enter to run and the "Format SQL" button), started from a file
   rather than inline so the Content-Security-Policy can forbid inline script. */
window.addEventListener("load", function () {
  var formatButton = document.querySelector("button#sql-format");
  var shown = document.querySelector("pre#sql-query");
  var textarea = document.querySelector("textarea#sql-editor");
  if (textarea && window.CodeMirror) {
    if (formatButton) { formatButton.hidden = false; }
    var editor = CodeMirror.fromTextArea(textarea, {lineNumbers: true, mode: "text/x-sql", lineWrapping: true});
    editor.setOption("extraKeys", {
      "Shift-Enter": function () { document.querySelector("form.sql").submit(); },
      Tab: false
    });
    if (formatButton && window.sqlFormatter) {
      formatButton.addEventListener("click", function () { editor.setValue(sqlFormatter.format(editor.getValue())); });
    }
    if (window.cmResize) { cmResize(editor, {resizableWidth: false}); }
  }
  if (formatButton && shown && window.sqlFormatter) {
    var pretty = sqlFormatter.format(shown.textContent);
    if (pretty !== shown.textContent) {
      formatButton.hidden = false;
      formatButton.addEventListener("click", function () { shown.textContent = pretty; });
    }
  }
});
