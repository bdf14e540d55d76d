// synthians: the runner behind the `synthians` command.
export { up, serve, portFor, dataDirFrom } from './runner.ts';
export { services, findService } from './services.ts';
