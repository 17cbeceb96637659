// Validates AsyncAPI documents with the official parser (@asyncapi/parser, pinned in
// package.json). Usage: node validate.mjs FILE...  Exit 1 on any error or warning.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "information", "hint"];
const parser = new Parser();
let failed = false;

for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(await readFile(file, "utf8"), {
    source: file,
  });
  const blocking = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
  for (const d of diagnostics) {
    const where = d.path.length ? d.path.join(".") : "$";
    console.log(`${file}: ${SEVERITY[d.severity]}: ${d.code}: ${where}: ${d.message}`);
  }
  if (document === undefined || blocking.length > 0) {
    failed = true;
    continue;
  }
  const channels = document.channels().length;
  const messages = document.components().messages().length;
  const operations = document.operations().length;
  console.log(
    `${file}: valid AsyncAPI ${document.version()} ` +
      `(${channels} channels, ${operations} operations, ${messages} messages)`,
  );
}
process.exit(failed ? 1 : 0);
