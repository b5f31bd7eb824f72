// Validates a greenlight configuration file with the one validator (shared/config/validate.ts) and
// prints the result as JSON: deploy/greenlight-vars.cjs runs it in a child process, because the
// Serverless Framework loads that file as CommonJS and cannot import the TypeScript schema itself.
// Besides problems, warnings and the parsed configuration, it lists every file the bundles are
// rendered from (shared/config/validation-report.ts).
// Usage: node --import tsx scripts/validate-config.ts <greenlight.yml>
import { validationReport } from '../shared/config/validation-report.ts';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: node --import tsx scripts/validate-config.ts <greenlight.yml>\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(validationReport(path))}\n`);
