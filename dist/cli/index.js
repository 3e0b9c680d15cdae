import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 581:
/***/ ((module, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _core_cli_args_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(467);
/* harmony import */ var _core_dispatch_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(741);
/* harmony import */ var _core_cli_modes_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(560);



const USAGE = `usage: rollgate <action> [--input value ...]

Runs one rollgate action outside GitHub Actions: each --flag sets the action input of the
same name (--plan .github/rollout.yml --bake 30s --error-rate-threshold 1). The job summary
is printed to the terminal; outputs are printed as name=value.

actions: ${_core_dispatch_js__WEBPACK_IMPORTED_MODULE_0__/* .ACTION_NAMES */ .G.join(', ')}
modes:
${(0,_core_cli_modes_js__WEBPACK_IMPORTED_MODULE_1__/* .describeModes */ .Oi)()}`;
async function main(argv) {
    const [action, ...rest] = argv;
    if (!action || action === '--help' || action === '-h' || action === 'help') {
        process.stdout.write(`${USAGE}\n`);
        process.exitCode = action ? 0 : 2;
        return;
    }
    if (!(0,_core_dispatch_js__WEBPACK_IMPORTED_MODULE_0__/* .isActionName */ .S8)(action) && !_core_cli_modes_js__WEBPACK_IMPORTED_MODULE_1__/* .MODE_NAMES */ .Jc.includes(action)) {
        process.stderr.write(`rollgate: unknown action ${JSON.stringify(action)}\n\n${USAGE}\n`);
        process.exitCode = 2;
        return;
    }
    let inputs;
    try {
        inputs = (0,_core_cli_args_js__WEBPACK_IMPORTED_MODULE_2__/* .inputsFromArgs */ .L)(rest);
    }
    catch (err) {
        process.stderr.write(`rollgate ${action}: ${err.message}\n`);
        process.exitCode = 2;
        return;
    }
    const mode = (0,_core_cli_modes_js__WEBPACK_IMPORTED_MODULE_1__/* .resolveMode */ .U5)(action, inputs);
    Object.assign(process.env, mode?.inputs ?? inputs);
    await (0,_core_dispatch_js__WEBPACK_IMPORTED_MODULE_0__/* .runBundledAction */ ._6)(mode?.action ?? action, import.meta.url);
}
await main(process.argv.slice(2));

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 467:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   L: () => (/* binding */ inputsFromArgs)
/* harmony export */ });
/** Maps `--name value` / `--name=value` pairs to INPUT_NAME variables, as the runner does. */
function inputsFromArgs(args) {
    const inputs = {};
    for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (!arg.startsWith('--') || arg === '--')
            throw new Error(`unexpected argument ${JSON.stringify(arg)}: inputs are given as --name value`);
        const eq = arg.indexOf('=');
        const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
        let value;
        if (eq > 0)
            value = arg.slice(eq + 1);
        else if (i + 1 < args.length && !args[i + 1].startsWith('--'))
            value = args[++i];
        else
            value = 'true';
        if (!/^[a-z][a-z0-9-]*$/.test(name))
            throw new Error(`bad input name ${JSON.stringify(name)}: expected lower-case words joined by -`);
        inputs[`INPUT_${name.toUpperCase()}`] = value;
    }
    return inputs;
}


/***/ }),

/***/ 560:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Jc: () => (/* binding */ MODE_NAMES),
/* harmony export */   Oi: () => (/* binding */ describeModes),
/* harmony export */   U5: () => (/* binding */ resolveMode)
/* harmony export */ });
/** CLI commands that run an action in one of its modes, with their flags renamed to the action's inputs. */
const MODES = {
    'check-plan': { action: 'pre-deploy-checklist', set: { 'check-plan': 'true' }, rename: {}, about: 'validate the plan and run every query once against the live backend' },
    backtest: {
        action: 'metrics-gate',
        set: {},
        rename: { from: 'backtest-from', to: 'backtest-to', json: 'backtest-json', deployments: 'backtest-deployments', limit: 'backtest-limit' },
        about: 'replay the gate over a past window (--from, --to) or every recorded bake window (--deployments)',
    },
};
const MODE_NAMES = Object.keys(MODES);
/** One line per mode for the usage text. */
function describeModes() {
    return Object.entries(MODES)
        .map(([name, m]) => `  ${name}: ${m.about} (${m.action})`)
        .join('\n');
}
/** The action a mode runs and its INPUT_* variables; undefined when `name` is not a mode. */
function resolveMode(name, inputs) {
    const mode = MODES[name];
    if (!mode)
        return undefined;
    const out = {};
    for (const [key, value] of Object.entries(inputs)) {
        const flag = key.replace(/^INPUT_/, '').toLowerCase();
        out[`INPUT_${(mode.rename[flag] ?? flag).toUpperCase()}`] = value;
    }
    for (const [flag, value] of Object.entries(mode.set))
        out[`INPUT_${flag.toUpperCase()}`] = value;
    return { action: mode.action, inputs: out };
}


/***/ }),

/***/ 741:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  G: () => (/* binding */ ACTION_NAMES),
  S8: () => (/* binding */ isActionName),
  _6: () => (/* binding */ runBundledAction)
});

;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
;// CONCATENATED MODULE: external "node:url"
const external_node_url_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:url");
;// CONCATENATED MODULE: ./src/core/dispatch.ts



/** The six actions, in the order a rollout uses them. */
const ACTION_NAMES = ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback', 'pre-deploy-checklist'];
function isActionName(name) {
    return ACTION_NAMES.includes(name);
}
/**
 * Runs the bundled action `name` in this process, exactly as the runner would: the bundle
 * beside the caller's own (`dist/<name>/index.js`) reads its INPUT_* variables and runs.
 */
async function runBundledAction(name, callerUrl) {
    const bundle = (0,external_node_path_namespaceObject.join)((0,external_node_path_namespaceObject.dirname)((0,external_node_url_namespaceObject.fileURLToPath)(callerUrl)), '..', name, 'index.js');
    if (!(0,external_node_fs_namespaceObject.existsSync)(bundle))
        throw new Error(`the bundle for ${name} is missing at ${bundle}: run npm run build`);
    await import(/* webpackIgnore: true */ (0,external_node_url_namespaceObject.pathToFileURL)(bundle).href);
}


/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(581);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 
