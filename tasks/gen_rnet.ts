import { hardExampleTask } from "./gen_hard.ts";

export default hardExampleTask("rnet");
